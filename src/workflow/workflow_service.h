#pragma once
// Workflows and their executions, wire-free: documents are validated when stored; an execution is a durable
// operation (kind "workflow_execution") run in the background by the operation runner, its steps journalled in the
// workflow store. A process killed at any moment resumes each running execution at start, from its last finished
// step. Stop ends an execution after its running step; terminate ends it at once.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "service/operation_runner.h"
#include "service/service_error.h"
#include "store/workflow_store.h"
#include "workflow/engine.h"

namespace fm::workflow {

inline constexpr const char* kExecutionOperation = "workflow_execution";

// Integration calls made since the process started (every attempt, retries included), for /metrics.
struct WorkflowCallCounts {
  int64_t model_calls = 0, http_calls = 0, executions_finished = 0, executions_failed = 0;
};

struct WorkflowPage {
  std::vector<WorkflowRecord> workflows;
  std::string next_page_token;
};
struct ExecutionPage {
  std::vector<ExecutionRecord> executions;
  std::string next_page_token;
};

class WorkflowService final : public OperationExecutor {
 public:
  WorkflowService(WorkflowStore& store, OperationRunner& runner, StepCalls& calls, EngineOptions options = {});
  ~WorkflowService() override;  // joins the executions still running (the runner has stopped them)

  // Throws ServiceError (invalid argument, with every problem's path) for a bad document.
  WorkflowRecord create(WorkflowRecord w);
  // A workflow of `folder` (NOT_FOUND otherwise).
  WorkflowRecord get(const std::string& folder, const std::string& id) const;
  WorkflowRecord update(const std::string& folder, WorkflowRecord w);
  void remove(const std::string& folder, const std::string& id);
  WorkflowPage list(const std::string& folder, size_t page_size, const std::string& page_token) const;

  // Stores an execution of the workflow on `input` (QUEUED) and queues it; returns its id.
  std::string start_execution(const std::string& folder, const std::string& workflow_id, const json& input,
                              const std::string& created_by);
  ExecutionRecord execution(const std::string& folder, const std::string& id) const;
  std::vector<StoredStep> history(const std::string& folder, const std::string& id) const;
  ExecutionRecord stop(const std::string& folder, const std::string& id);       // after the running step
  ExecutionRecord terminate(const std::string& folder, const std::string& id);  // at once
  ExecutionPage executions(const std::string& folder, const std::string& workflow_id, size_t page_size,
                           const std::string& page_token) const;

  WorkflowCallCounts counts() const;

  // OperationExecutor
  void start(std::shared_ptr<OperationRun> run) override;
  void cancelled(const Operation& op) override;

 private:
  struct Running {
    std::shared_ptr<ExecutionControl> control;
    std::thread thread;
    bool done = false;
  };
  void run_execution(std::shared_ptr<OperationRun> run, std::shared_ptr<ExecutionControl> control);
  ExecutionRecord end_request(const std::string& folder, const std::string& id, bool terminate);
  void reap_finished();

  // Counts each call on its way to the real StepCalls.
  class CountingCalls final : public StepCalls {
   public:
    explicit CountingCalls(StepCalls& inner) : inner_(inner) {}
    json foundation_models_call(const json& call, const CallContext& ctx) override {
      ++model_calls;
      return inner_.foundation_models_call(call, ctx);
    }
    json http_call(const json& call, const CallContext& ctx) override {
      ++http_calls;
      return inner_.http_call(call, ctx);
    }
    std::atomic<int64_t> model_calls{0}, http_calls{0};

   private:
    StepCalls& inner_;
  };

  WorkflowStore& store_;
  OperationRunner& runner_;
  CountingCalls calls_;
  std::atomic<int64_t> finished_{0}, failed_{0};
  EngineOptions options_;
  std::mutex mutex_;
  std::map<std::string, Running> running_;  // by execution id
};

// The document of a stored workflow, parsed (it was valid when stored).
json workflow_document(const WorkflowRecord& w);

}  // namespace fm::workflow
