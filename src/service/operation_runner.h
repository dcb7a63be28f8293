#pragma once
// Runs stored operations in the background, below interactive requests in priority: an async completion is
// stored first, then run; its result or error is stored exactly once. Operations left unfinished by a previous
// process (killed at any moment) are run again at start; one that keeps being interrupted ends with an error.
// Done operations are purged after the retention time.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "service/generation_service.h"
#include "store/operation_store.h"

namespace fm {

struct OperationRunnerOptions {
  int concurrency = 4;                                  // operations running at once
  std::chrono::seconds retention{3 * 24 * 3600};        // done operations are kept this long
  int max_attempts = 3;                                 // runs before an interrupted operation fails
};

inline constexpr const char* kCompletionOperation = "completion";

class OperationRunner {
 public:
  OperationRunner(OperationStore& store, GenerationService& generation, OperationRunnerOptions options);
  ~OperationRunner();  // stop()

  void start();  // resumes what a previous process left unfinished
  // Cancels the runs in flight; their operations stay pending for the next start.
  void stop();

  // Stores a completion and queues it; returns the stored operation.
  Operation submit_completion(const std::string& folder, const std::string& created_by, const std::string& description,
                              const GenerationRequest& request);
  // Ends a not-done operation with CANCELLED and stops its run; returns the operation as it now is.
  std::optional<Operation> cancel(const std::string& id);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the observers of runs in flight
};

}  // namespace fm
