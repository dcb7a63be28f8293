#pragma once
// Workflows (YaWL documents with a name, per folder), their executions and each execution's finished step runs,
// in DIR/workflows.sqlite3. A step run is written before the execution goes on, keyed by its place in the run, so
// a process killed at any moment resumes an execution from its last finished step (see workflow/engine.h).
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fm {

struct WorkflowRecord {
  std::string id, folder, name, description;
  nlohmann::ordered_json labels = nlohmann::ordered_json::object();
  std::string spec_yaml;  // the document as the client sent it
  int64_t created_at_ms = 0, modified_at_ms = 0;
};

struct ExecutionRecord {
  std::string id, workflow_id, folder, created_by;
  std::string status;  // QUEUED, RUNNING, STOPPED, FAILED, FINISHED
  nlohmann::ordered_json input;
  std::optional<nlohmann::ordered_json> result;                 // FINISHED
  std::string error_code, error_message;                // FAILED
  int64_t created_at_ms = 0, started_at_ms = 0, finished_at_ms = 0;
  bool stop_requested = false;                           // stop or terminate asked; a restart does not resume it
};

struct StoredStep {
  std::string key, step_id, title, type, status;  // status FINISHED or FAILED
  nlohmann::ordered_json input, output;
  std::string next, error_code, error_message;
  int attempts = 1;
  int64_t started_at_ms = 0, finished_at_ms = 0;
};

class WorkflowStore {
 public:
  virtual ~WorkflowStore() = default;
  virtual WorkflowRecord create_workflow(WorkflowRecord w) = 0;  // assigns id and times
  virtual std::optional<WorkflowRecord> workflow(const std::string& id) const = 0;
  virtual void update_workflow(const WorkflowRecord& w) = 0;
  virtual bool delete_workflow(const std::string& id) = 0;
  // A folder's workflows, oldest first, from `after_id` (exclusive; "" = from the start).
  virtual std::vector<WorkflowRecord> workflows(const std::string& folder, size_t limit, const std::string& after_id) const = 0;

  // Stores QUEUED (nothing changes when one with its id exists already).
  virtual ExecutionRecord create_execution(ExecutionRecord e) = 0;
  virtual std::optional<ExecutionRecord> execution(const std::string& id) const = 0;
  virtual void set_running(const std::string& id) = 0;
  // Ends a not yet ended execution; false when it had already ended.
  virtual bool finish_execution(const std::string& id, const std::string& status, const std::optional<nlohmann::ordered_json>& result,
                                const std::string& error_code, const std::string& error_message) = 0;
  virtual void request_stop(const std::string& id) = 0;
  virtual std::vector<ExecutionRecord> executions(const std::string& folder, const std::string& workflow_id, size_t limit,
                                                  const std::string& after_id) const = 0;

  // Stores a step run unless one with its key is there already.
  virtual void add_step(const std::string& execution_id, const StoredStep& step) = 0;
  virtual std::optional<StoredStep> step(const std::string& execution_id, const std::string& key) const = 0;
  virtual std::vector<StoredStep> steps(const std::string& execution_id) const = 0;  // in the order they finished
};

std::unique_ptr<WorkflowStore> open_sqlite_workflow_store(const std::string& data_dir);

}  // namespace fm
