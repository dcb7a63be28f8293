#include "store/workflow_store.h"

#include <mutex>

#include "store/operation_store.h"
#include "store/random_id.h"
#include "store/sqlite_db.h"

namespace fm {
namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
json parse(const std::string& text) { return text.empty() ? json() : json::parse(text, nullptr, false); }

#define WORKFLOW_COLUMNS "id, folder, name, description, labels, spec, created_at, modified_at"
#define EXECUTION_COLUMNS \
  "id, workflow_id, folder, created_by, status, input, result, error_code, error_message, created_at, started_at, finished_at, stop_requested"
#define STEP_COLUMNS \
  "key, step_id, title, type, status, input, output, next, error_code, error_message, attempts, started_at, finished_at"

class SqliteWorkflowStore final : public WorkflowStore {
 public:
  explicit SqliteWorkflowStore(const std::string& data_dir)
      : db_(data_dir, "workflows.sqlite3",
            "CREATE TABLE IF NOT EXISTS workflows (id TEXT PRIMARY KEY, folder TEXT NOT NULL, name TEXT NOT NULL,"
            " description TEXT NOT NULL, labels TEXT NOT NULL, spec TEXT NOT NULL, created_at INTEGER NOT NULL,"
            " modified_at INTEGER NOT NULL);"
            "CREATE TABLE IF NOT EXISTS executions (id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, folder TEXT NOT NULL,"
            " created_by TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL, result TEXT, error_code TEXT NOT NULL DEFAULT '',"
            " error_message TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, started_at INTEGER NOT NULL DEFAULT 0,"
            " finished_at INTEGER NOT NULL DEFAULT 0, stop_requested INTEGER NOT NULL DEFAULT 0);"
            "CREATE TABLE IF NOT EXISTS execution_steps (execution_id TEXT NOT NULL, key TEXT NOT NULL, step_id TEXT NOT NULL,"
            " title TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL, output TEXT NOT NULL,"
            " next TEXT NOT NULL, error_code TEXT NOT NULL, error_message TEXT NOT NULL, attempts INTEGER NOT NULL,"
            " started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL, PRIMARY KEY (execution_id, key));") {}

  WorkflowRecord create_workflow(WorkflowRecord w) override {
    w.id = random_id("wf");
    w.created_at_ms = w.modified_at_ms = now_ms();
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "INSERT INTO workflows (" WORKFLOW_COLUMNS ") VALUES (?,?,?,?,?,?,?,?)");
    st.bind(1, w.id).bind(2, w.folder).bind(3, w.name).bind(4, w.description).bind(5, dump(w.labels)).bind(6, w.spec_yaml);
    st.bind(7, w.created_at_ms).bind(8, w.modified_at_ms);
    st.step();
    return w;
  }

  std::optional<WorkflowRecord> workflow(const std::string& id) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT " WORKFLOW_COLUMNS " FROM workflows WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return workflow_row(st);
  }

  void update_workflow(const WorkflowRecord& w) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "UPDATE workflows SET name = ?, description = ?, labels = ?, spec = ?, modified_at = ? WHERE id = ?");
    st.bind(1, w.name).bind(2, w.description).bind(3, dump(w.labels)).bind(4, w.spec_yaml).bind(5, now_ms()).bind(6, w.id);
    st.step();
  }

  bool delete_workflow(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "DELETE FROM workflows WHERE id = ?");
    st.bind(1, id);
    st.step();
    return db_.changes() > 0;
  }

  std::vector<WorkflowRecord> workflows(const std::string& folder, size_t limit, const std::string& after_id) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT " WORKFLOW_COLUMNS " FROM workflows WHERE folder = ? AND (? = '' OR rowid > (SELECT rowid FROM workflows WHERE id = ?))"
                      " ORDER BY rowid LIMIT ?");
    st.bind(1, folder).bind(2, after_id).bind(3, after_id).bind(4, static_cast<int64_t>(limit));
    std::vector<WorkflowRecord> out;
    while (st.step()) out.push_back(workflow_row(st));
    return out;
  }

  ExecutionRecord create_execution(ExecutionRecord e) override {
    if (e.id.empty()) e.id = random_id("ex");
    e.status = "QUEUED";
    e.created_at_ms = now_ms();
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "INSERT OR IGNORE INTO executions (id, workflow_id, folder, created_by, status, input, created_at) VALUES (?,?,?,?,?,?,?)");
    st.bind(1, e.id).bind(2, e.workflow_id).bind(3, e.folder).bind(4, e.created_by).bind(5, e.status).bind(6, dump(e.input));
    st.bind(7, e.created_at_ms);
    st.step();
    return e;
  }

  std::optional<ExecutionRecord> execution(const std::string& id) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT " EXECUTION_COLUMNS " FROM executions WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return execution_row(st);
  }

  void set_running(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "UPDATE executions SET status = 'RUNNING', started_at = CASE WHEN started_at = 0 THEN ? ELSE started_at END"
                      " WHERE id = ? AND status IN ('QUEUED', 'RUNNING')");
    st.bind(1, now_ms()).bind(2, id);
    st.step();
  }

  bool finish_execution(const std::string& id, const std::string& status, const std::optional<json>& result,
                        const std::string& error_code, const std::string& error_message) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "UPDATE executions SET status = ?, result = ?, error_code = ?, error_message = ?, finished_at = ?"
                      " WHERE id = ? AND status IN ('QUEUED', 'RUNNING')");
    st.bind(1, status);
    if (result) st.bind(2, dump(*result));
    else st.bind_null(2);
    st.bind(3, error_code).bind(4, error_message).bind(5, now_ms()).bind(6, id);
    st.step();
    return db_.changes() > 0;
  }

  void request_stop(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "UPDATE executions SET stop_requested = 1 WHERE id = ?");
    st.bind(1, id);
    st.step();
  }

  std::vector<ExecutionRecord> executions(const std::string& folder, const std::string& workflow_id, size_t limit,
                                          const std::string& after_id) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT " EXECUTION_COLUMNS " FROM executions WHERE folder = ? AND (? = '' OR workflow_id = ?)"
                      " AND (? = '' OR rowid > (SELECT rowid FROM executions WHERE id = ?)) ORDER BY rowid LIMIT ?");
    st.bind(1, folder).bind(2, workflow_id).bind(3, workflow_id).bind(4, after_id).bind(5, after_id).bind(6, static_cast<int64_t>(limit));
    std::vector<ExecutionRecord> out;
    while (st.step()) out.push_back(execution_row(st));
    return out;
  }

  void add_step(const std::string& execution_id, const StoredStep& s) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "INSERT OR IGNORE INTO execution_steps (execution_id, " STEP_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    st.bind(1, execution_id).bind(2, s.key).bind(3, s.step_id).bind(4, s.title).bind(5, s.type).bind(6, s.status);
    st.bind(7, dump(s.input)).bind(8, dump(s.output)).bind(9, s.next).bind(10, s.error_code).bind(11, s.error_message);
    st.bind(12, static_cast<int64_t>(s.attempts)).bind(13, s.started_at_ms).bind(14, s.finished_at_ms);
    st.step();
  }

  std::optional<StoredStep> step(const std::string& execution_id, const std::string& key) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT " STEP_COLUMNS " FROM execution_steps WHERE execution_id = ? AND key = ?");
    st.bind(1, execution_id).bind(2, key);
    if (!st.step()) return std::nullopt;
    return step_row(st);
  }

  std::vector<StoredStep> steps(const std::string& execution_id) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT " STEP_COLUMNS " FROM execution_steps WHERE execution_id = ? ORDER BY rowid");
    st.bind(1, execution_id);
    std::vector<StoredStep> out;
    while (st.step()) out.push_back(step_row(st));
    return out;
  }

 private:
  static WorkflowRecord workflow_row(const Statement& st) {
    WorkflowRecord w;
    w.id = st.text(0);
    w.folder = st.text(1);
    w.name = st.text(2);
    w.description = st.text(3);
    w.labels = parse(st.text(4));
    w.spec_yaml = st.text(5);
    w.created_at_ms = st.integer(6);
    w.modified_at_ms = st.integer(7);
    return w;
  }

  static ExecutionRecord execution_row(const Statement& st) {
    ExecutionRecord e;
    e.id = st.text(0);
    e.workflow_id = st.text(1);
    e.folder = st.text(2);
    e.created_by = st.text(3);
    e.status = st.text(4);
    e.input = parse(st.text(5));
    if (!st.is_null(6)) e.result = parse(st.text(6));
    e.error_code = st.text(7);
    e.error_message = st.text(8);
    e.created_at_ms = st.integer(9);
    e.started_at_ms = st.integer(10);
    e.finished_at_ms = st.integer(11);
    e.stop_requested = st.integer(12) != 0;
    return e;
  }

  static StoredStep step_row(const Statement& st) {
    StoredStep s;
    s.key = st.text(0);
    s.step_id = st.text(1);
    s.title = st.text(2);
    s.type = st.text(3);
    s.status = st.text(4);
    s.input = parse(st.text(5));
    s.output = parse(st.text(6));
    s.next = st.text(7);
    s.error_code = st.text(8);
    s.error_message = st.text(9);
    s.attempts = static_cast<int>(st.integer(10));
    s.started_at_ms = st.integer(11);
    s.finished_at_ms = st.integer(12);
    return s;
  }

  SqliteDb db_;
  mutable std::mutex mutex_;
};

}  // namespace

std::unique_ptr<WorkflowStore> open_sqlite_workflow_store(const std::string& data_dir) {
  return std::make_unique<SqliteWorkflowStore>(data_dir);
}

}  // namespace fm
