#include "store/batch_store.h"

#include <mutex>
#include <stdexcept>

#include "store/operation_store.h"
#include "store/random_id.h"
#include "store/sqlite_db.h"

namespace fm {

bool is_terminal_task_status(const std::string& s) { return s == kTaskCompleted || s == kTaskFailed || s == kTaskCanceled; }

namespace {

using json = nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json to_doc(const BatchTask& t) {
  return {{"id", t.id}, {"operation_id", t.operation_id}, {"folder", t.folder}, {"model_uri", t.model_uri},
          {"source_dataset_id", t.source_dataset_id}, {"result_dataset_id", t.result_dataset_id}, {"status", t.status},
          {"created_by", t.created_by}, {"completion_request", t.completion_request}, {"generation", t.generation},
          {"labels", t.labels}, {"created_at_ms", t.created_at_ms}, {"started_at_ms", t.started_at_ms},
          {"finished_at_ms", t.finished_at_ms}, {"total_lines", t.total_lines}, {"failure", t.failure},
          {"dialect", t.dialect}, {"error_dataset_id", t.error_dataset_id}, {"extra", t.extra}};
}

BatchTask from_doc(const std::string& text) {
  const json j = json::parse(text);
  BatchTask t;
  t.id = j.at("id");
  t.operation_id = j.value("operation_id", "");
  t.folder = j.at("folder");
  t.model_uri = j.value("model_uri", "");
  t.source_dataset_id = j.value("source_dataset_id", "");
  t.result_dataset_id = j.value("result_dataset_id", "");
  t.status = j.value("status", kTaskCreated);
  t.created_by = j.value("created_by", "");
  t.completion_request = j.value("completion_request", json::object());
  t.generation = j.value("generation", json::object());
  t.labels = j.value("labels", std::map<std::string, std::string>{});
  t.created_at_ms = j.value("created_at_ms", int64_t{0});
  t.started_at_ms = j.value("started_at_ms", int64_t{0});
  t.finished_at_ms = j.value("finished_at_ms", int64_t{0});
  t.total_lines = j.value("total_lines", int64_t{0});
  t.failure = j.value("failure", "");
  t.dialect = j.value("dialect", "");
  t.error_dataset_id = j.value("error_dataset_id", "");
  t.extra = j.value("extra", json::object());
  return t;
}

class SqliteBatchStore final : public BatchStore {
 public:
  explicit SqliteBatchStore(const std::string& data_dir)
      : db_(data_dir, "batch.sqlite3",
            "CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, folder TEXT NOT NULL, status TEXT NOT NULL,"
            " created_at INTEGER NOT NULL, doc TEXT NOT NULL);"
            "CREATE INDEX IF NOT EXISTS tasks_by_folder ON tasks (folder, created_at);"
            "CREATE TABLE IF NOT EXISTS results (task TEXT NOT NULL, line INTEGER NOT NULL, response TEXT,"
            " error TEXT, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, result TEXT,"
            " error_code INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (task, line)) WITHOUT ROWID;") {}

  BatchTask create(BatchTask t) override {
    t.id = random_id("fbt");
    t.created_at_ms = now_ms();
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "INSERT INTO tasks (id, folder, status, created_at, doc) VALUES (?,?,?,?,?)");
    st.bind(1, t.id).bind(2, t.folder).bind(3, t.status).bind(4, t.created_at_ms).bind(5, dump(to_doc(t)));
    st.step();
    return t;
  }

  std::optional<BatchTask> get(const std::string& id) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT doc FROM tasks WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return from_doc(st.text(0));
  }

  BatchTaskPage list(const std::string& folder, size_t page_size, const std::string& page_token) const override {
    int64_t offset = 0;
    if (!page_token.empty()) {
      try {
        offset = std::stoll(page_token);
      } catch (const std::exception&) {
        throw std::invalid_argument("pageToken is not a token this server issued");
      }
    }
    const int64_t page = page_size == 0 ? 100 : static_cast<int64_t>(page_size);
    BatchTaskPage out;
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT doc FROM tasks WHERE folder = ? ORDER BY created_at, rowid LIMIT ? OFFSET ?");
    st.bind(1, folder).bind(2, page + 1).bind(3, offset);
    while (st.step()) {
      if (static_cast<int64_t>(out.tasks.size()) == page) {
        out.next_page_token = std::to_string(offset + page);
        break;
      }
      out.tasks.push_back(from_doc(st.text(0)));
    }
    return out;
  }

  std::vector<BatchTask> unfinished() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT doc FROM tasks WHERE status IN ('CREATED', 'PENDING', 'IN_PROGRESS') ORDER BY created_at, rowid");
    std::vector<BatchTask> out;
    while (st.step()) out.push_back(from_doc(st.text(0)));
    return out;
  }

  bool put(const BatchTask& t) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "UPDATE tasks SET status = ?, doc = ? WHERE id = ?");
    st.bind(1, t.status).bind(2, dump(to_doc(t))).bind(3, t.id);
    st.step();
    return db_.changes() > 0;
  }

  bool put_if_status(const BatchTask& t, const std::string& expected) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "UPDATE tasks SET status = ?, doc = ? WHERE id = ? AND status = ?");
    st.bind(1, t.status).bind(2, dump(to_doc(t))).bind(3, t.id).bind(4, expected);
    st.step();
    return db_.changes() > 0;
  }

  bool remove(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement results(db_, "DELETE FROM results WHERE task = ?");
    results.bind(1, id);
    results.step();
    Statement st(db_, "DELETE FROM tasks WHERE id = ?");
    st.bind(1, id);
    st.step();
    return db_.changes() > 0;
  }

  bool put_result(const std::string& task_id, const LineResult& r) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "INSERT OR IGNORE INTO results (task, line, response, error, prompt_tokens, completion_tokens,"
                      " result, error_code) VALUES (?,?,?,?,?,?,?,?)");
    st.bind(1, task_id).bind(2, r.line);
    if (r.response) st.bind(3, *r.response); else st.bind_null(3);
    if (r.response) st.bind_null(4); else st.bind(4, r.error);
    st.bind(5, r.prompt_tokens).bind(6, r.completion_tokens).bind(7, r.result).bind(8, static_cast<int64_t>(r.error_code));
    st.step();
    return db_.changes() > 0;
  }

  std::vector<int64_t> finished_lines(const std::string& task_id) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT line FROM results WHERE task = ? ORDER BY line");
    st.bind(1, task_id);
    std::vector<int64_t> out;
    while (st.step()) out.push_back(st.integer(0));
    return out;
  }

  void each_result(const std::string& task_id, const std::function<void(const LineResult&)>& visit) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT line, response, error, prompt_tokens, completion_tokens, result, error_code FROM results"
                      " WHERE task = ? ORDER BY line");
    st.bind(1, task_id);
    while (st.step()) {
      LineResult r;
      r.line = st.integer(0);
      if (!st.is_null(1)) r.response = st.text(1);
      if (!st.is_null(2)) r.error = st.text(2);
      r.prompt_tokens = st.integer(3);
      r.completion_tokens = st.integer(4);
      if (!st.is_null(5)) r.result = st.text(5);
      r.error_code = static_cast<int>(st.integer(6));
      visit(r);
    }
  }

  Counts counts(const std::string& task_id) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT COUNT(*), COUNT(*) - COUNT(response) FROM results WHERE task = ?");
    st.bind(1, task_id);
    Counts c;
    if (st.step()) {
      c.done = st.integer(0);
      c.failed = st.integer(1);
    }
    return c;
  }

  std::vector<LineError> line_errors(const std::string& task_id, size_t limit) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT line, error FROM results WHERE task = ? AND response IS NULL ORDER BY line LIMIT ?");
    st.bind(1, task_id).bind(2, static_cast<int64_t>(limit));
    std::vector<LineError> out;
    while (st.step()) out.push_back({st.integer(0), st.text(1)});
    return out;
  }

 private:
  mutable std::mutex mutex_;
  SqliteDb db_;
};

}  // namespace

std::unique_ptr<BatchStore> open_sqlite_batch_store(const std::string& data_dir) {
  return std::make_unique<SqliteBatchStore>(data_dir);
}

}  // namespace fm
