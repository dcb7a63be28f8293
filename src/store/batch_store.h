#pragma once
// Batch inference tasks and their per-line results. A result is stored once per (task, line): a task killed at
// any moment and resumed skips the lines already stored, so none is lost and none is run into the result twice.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fm {

// Statuses by their wire names.
inline constexpr const char* kTaskCreated = "CREATED";
inline constexpr const char* kTaskPending = "PENDING";
inline constexpr const char* kTaskInProgress = "IN_PROGRESS";
inline constexpr const char* kTaskCompleted = "COMPLETED";
inline constexpr const char* kTaskFailed = "FAILED";
inline constexpr const char* kTaskCanceled = "CANCELED";
bool is_terminal_task_status(const std::string& status);

struct LineError {
  int64_t line = 0;  // 1-based line of the source dataset
  std::string message;
};

struct BatchTask {
  std::string id, operation_id, folder, model_uri, source_dataset_id, result_dataset_id;
  std::string status = kTaskCreated, created_by;
  nlohmann::json completion_request;  // the request as accepted, in the native API's shape (for describe)
  nlohmann::json generation;          // the GenerationRequest every line starts from (the service's JSON)
  std::map<std::string, std::string> labels;
  int64_t created_at_ms = 0, started_at_ms = 0, finished_at_ms = 0;
  int64_t total_lines = 0;
  std::string failure;  // why a FAILED task failed
  std::string dialect;  // how lines are read and results written: "" (dataset rows) or "openai" (Batch API lines)
  std::string error_dataset_id;  // "openai": the file of failed lines, once published
  nlohmann::json extra = nlohmann::json::object();  // the dialect's own fields (OpenAI: endpoint, metadata, …)
};

struct BatchTaskPage {
  std::vector<BatchTask> tasks;
  std::string next_page_token;
};

// One line's outcome: the generated text, or why the line failed.
struct LineResult {
  int64_t line = 0;
  std::optional<std::string> response;
  std::string error;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  std::string result;  // the whole GenerationResult (the service's JSON) when the line succeeded
  int error_code = 0;  // google.rpc.Code of a failed line
};

class BatchStore {
 public:
  virtual ~BatchStore() = default;
  virtual BatchTask create(BatchTask task) = 0;  // assigns the id and created_at
  virtual std::optional<BatchTask> get(const std::string& id) const = 0;
  virtual BatchTaskPage list(const std::string& folder, size_t page_size, const std::string& page_token) const = 0;
  virtual std::vector<BatchTask> unfinished() const = 0;  // not yet COMPLETED, FAILED or CANCELED, oldest first
  virtual bool put(const BatchTask& task) = 0;
  // Moves a task on only from a status it is still in; false when it has left it (cancelled meanwhile).
  virtual bool put_if_status(const BatchTask& task, const std::string& expected_status) = 0;
  virtual bool remove(const std::string& id) = 0;  // with its results

  // Stores a line's result unless that line already has one; true when stored now.
  virtual bool put_result(const std::string& task_id, const LineResult& result) = 0;
  virtual std::vector<int64_t> finished_lines(const std::string& task_id) const = 0;
  // The task's results in line order.
  virtual void each_result(const std::string& task_id, const std::function<void(const LineResult&)>& visit) const = 0;
  struct Counts {
    int64_t done = 0, failed = 0;  // lines with a result; of those, failed ones
  };
  virtual Counts counts(const std::string& task_id) const = 0;
  // The failed lines, in line order, at most `limit`.
  virtual std::vector<LineError> line_errors(const std::string& task_id, size_t limit) const = 0;
};

// The embedded default: DIR/batch.sqlite3.
std::unique_ptr<BatchStore> open_sqlite_batch_store(const std::string& data_dir);

}  // namespace fm
