#pragma once
// Runs stored operations in the background, below interactive requests in priority. An operation is stored
// first, then run by the executor registered for its kind (async completions, dataset validations, batch tasks);
// its result or error is stored exactly once. Operations left unfinished by a previous process (killed at any
// moment) are run again at start; one that keeps being interrupted ends with an error. Done operations are purged
// after the retention time.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "service/generation_service.h"
#include "store/operation_store.h"

namespace fm {

struct OperationRunnerOptions {
  int concurrency = 4;                                  // async completions running at once
  std::chrono::seconds retention{3 * 24 * 3600};        // done operations are kept this long
  int max_attempts = 3;                                 // runs before an interrupted completion fails
};

inline constexpr const char* kCompletionOperation = "completion";

// One run of a stored operation, as its executor sees it.
class OperationRun {
 public:
  explicit OperationRun(Operation op) : op_(std::move(op)) {}
  const Operation& operation() const { return op_; }
  // The user cancelled the operation (it is already stored as failed) or the process is stopping.
  bool cancelled() const { return cancelled_.load(); }
  // The process is stopping: the executor leaves the operation pending, the next start runs it again.
  bool stopping() const { return stopping_.load(); }
  // `f` runs once when the run is cancelled (at once when it already is); it must not block.
  void on_cancel(std::function<void()> f);
  // The executor is done: the outcome is stored (or the operation stays pending). Call exactly once.
  void finish();

 private:
  friend class OperationRunner;
  void cancel(bool stopping);
  Operation op_;
  std::atomic<bool> cancelled_{false}, stopping_{false};
  std::mutex mutex_;
  std::function<void()> cancel_callback_;
  std::function<void()> finished_;  // set by the runner
};

class OperationExecutor {
 public:
  virtual ~OperationExecutor() = default;
  // Starts the run without blocking for long; the executor calls run->finish() once it is over.
  virtual void start(std::shared_ptr<OperationRun> run) = 0;
  // The user cancelled a not-done operation of this kind (running or not); its operation is already failed.
  virtual void cancelled(const Operation&) {}
};

struct OperationKind {
  int concurrency = 1;   // runs of this kind at once
  int max_attempts = 3;  // runs started before an interrupted operation fails; 0: no limit (work that resumes)
};

class OperationRunner {
 public:
  OperationRunner(OperationStore& store, GenerationService& generation, OperationRunnerOptions options);
  ~OperationRunner();  // stop()

  // Registers the executor of a kind (before start()); it must outlive the runner's stop().
  void add_kind(const std::string& kind, OperationExecutor& executor, OperationKind options);
  void start();  // resumes what a previous process left unfinished
  // Cancels the runs in flight; their operations stay pending for the next start.
  void stop();

  // Stores an operation of a registered kind and queues it; returns the stored operation.
  Operation submit(const std::string& folder, const std::string& kind, const std::string& description,
                   const std::string& created_by, const nlohmann::json& request);
  // Stores a completion and queues it.
  Operation submit_completion(const std::string& folder, const std::string& created_by, const std::string& description,
                              const GenerationRequest& request);
  // Ends a not-done operation with CANCELLED and stops its run; returns the operation as it now is.
  std::optional<Operation> cancel(const std::string& id);
  OperationStore& store();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the runs in flight
};

}  // namespace fm
