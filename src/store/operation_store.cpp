#include "store/operation_store.h"

#include <chrono>
#include <mutex>

#include "store/random_id.h"
#include "store/sqlite_db.h"

namespace fm {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

namespace {

using json = nlohmann::json;

#define OPERATION_COLUMNS \
  "id, folder, kind, description, created_by, created_at, modified_at, done, attempts, request, metadata, response," \
  " error_code, error_message"

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

class SqliteOperationStore final : public OperationStore {
 public:
  explicit SqliteOperationStore(const std::string& data_dir)
      : db_(data_dir, "operations.sqlite3",
            "CREATE TABLE IF NOT EXISTS operations ("
            " id TEXT PRIMARY KEY, folder TEXT NOT NULL, kind TEXT NOT NULL, description TEXT NOT NULL,"
            " created_by TEXT NOT NULL, created_at INTEGER NOT NULL, modified_at INTEGER NOT NULL,"
            " done INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, request TEXT NOT NULL,"
            " metadata TEXT, response TEXT, error_code INTEGER, error_message TEXT);"
            "CREATE INDEX IF NOT EXISTS operations_pending ON operations (done, created_at);") {}

  Operation create(const std::string& folder, const std::string& kind, const std::string& description,
                   const std::string& created_by, const json& request) override {
    Operation op;
    op.id = random_id("fm");
    op.folder = folder;
    op.kind = kind;
    op.description = description;
    op.created_by = created_by;
    op.created_at_ms = op.modified_at_ms = now_ms();
    op.request = request;
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "INSERT INTO operations (id, folder, kind, description, created_by, created_at, modified_at, request)"
                      " VALUES (?,?,?,?,?,?,?,?)");
    st.bind(1, op.id).bind(2, folder).bind(3, kind).bind(4, description).bind(5, created_by);
    st.bind(6, op.created_at_ms).bind(7, op.modified_at_ms).bind(8, dump(request));
    st.step();
    return op;
  }

  std::optional<Operation> get(const std::string& id) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT " OPERATION_COLUMNS " FROM operations WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return row(st);
  }

  std::vector<Operation> pending(size_t limit, const std::string& kind) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT " OPERATION_COLUMNS " FROM operations WHERE done = 0 AND (? = '' OR kind = ?)"
                      " ORDER BY created_at, rowid LIMIT ?");
    st.bind(1, kind).bind(2, kind).bind(3, static_cast<int64_t>(limit));
    std::vector<Operation> out;
    while (st.step()) out.push_back(row(st));
    return out;
  }

  int begin_attempt(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement up(db_, "UPDATE operations SET attempts = attempts + 1 WHERE id = ? AND done = 0");
    up.bind(1, id);
    up.step();
    if (db_.changes() == 0) return 0;
    Statement st(db_, "SELECT attempts FROM operations WHERE id = ?");
    st.bind(1, id);
    return st.step() ? static_cast<int>(st.integer(0)) : 0;
  }

  void set_metadata(const std::string& id, const json& metadata) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "UPDATE operations SET metadata = ?, modified_at = ? WHERE id = ? AND done = 0");
    st.bind(1, dump(metadata)).bind(2, now_ms()).bind(3, id);
    st.step();
  }

  bool complete(const std::string& id, const json& response) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "UPDATE operations SET done = 1, response = ?, modified_at = ? WHERE id = ? AND done = 0");
    st.bind(1, dump(response)).bind(2, now_ms()).bind(3, id);
    st.step();
    return db_.changes() > 0;
  }

  bool fail(const std::string& id, const OperationError& error) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "UPDATE operations SET done = 1, error_code = ?, error_message = ?, modified_at = ? WHERE id = ? AND done = 0");
    st.bind(1, static_cast<int64_t>(error.code)).bind(2, error.message).bind(3, now_ms()).bind(4, id);
    st.step();
    return db_.changes() > 0;
  }

  int purge_done_before(int64_t cutoff_ms) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "DELETE FROM operations WHERE done = 1 AND modified_at < ?");
    st.bind(1, cutoff_ms);
    st.step();
    return db_.changes();
  }

 private:
  static Operation row(const Statement& st) {
    Operation op;
    op.id = st.text(0);
    op.folder = st.text(1);
    op.kind = st.text(2);
    op.description = st.text(3);
    op.created_by = st.text(4);
    op.created_at_ms = st.integer(5);
    op.modified_at_ms = st.integer(6);
    op.done = st.integer(7) != 0;
    op.attempts = static_cast<int>(st.integer(8));
    op.request = json::parse(st.text(9), nullptr, false);
    op.metadata = st.is_null(10) ? json() : json::parse(st.text(10), nullptr, false);
    if (!st.is_null(11)) op.response = json::parse(st.text(11), nullptr, false);
    if (!st.is_null(12)) op.error = OperationError{static_cast<int>(st.integer(12)), st.text(13)};
    return op;
  }

  mutable std::mutex mutex_;  // one statement at a time: changes() belongs to the connection
  SqliteDb db_;
};

}  // namespace

std::unique_ptr<OperationStore> open_sqlite_operation_store(const std::string& data_dir) {
  return std::make_unique<SqliteOperationStore>(data_dir);
}

}  // namespace fm
