// `fmserve workflow run FILE --input JSON [--config CONFIG]`: one execution in this process, its journal in memory.
#include <iostream>
#include <map>
#include <mutex>

#include "api/workflows/step_calls.h"
#include "cli/commands.h"
#include "service/model_manager.h"
#include "util/read_file.h"
#include "workflow/engine.h"
#include "workflow/jq_worker.h"
#include "workflow/yawl_document.h"

namespace fm::cli {
namespace {

using workflow::json;

// Keeps the step runs and prints each as it finishes: "FINISHED summarize (foundationModelsCall) {…}".
class PrintingJournal final : public workflow::ExecutionJournal {
 public:
  std::optional<workflow::StepRecord> find(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = records_.find(key);
    if (it == records_.end()) return std::nullopt;
    return it->second;
  }
  void record(const workflow::StepRecord& r) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!records_.emplace(r.key, r).second) return;
    json line = {{"step", r.key}, {"type", r.type}, {"status", r.status}, {"attempts", r.attempts}};
    if (!r.output.is_null()) line["output"] = r.output;
    if (!r.next.empty()) line["next"] = r.next;
    if (r.error) line["error"] = {{"errorCode", r.error->code}, {"message", r.error->message}};
    std::cout << line.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, workflow::StepRecord> records_;
};

}  // namespace

int run_workflow(const WorkflowRunOptions& opt) {
  const json doc = workflow::parse_document(read_file(opt.file));
  const json input = json::parse(opt.input, nullptr, false);
  if (input.is_discarded()) throw std::invalid_argument("--input is not valid JSON");
  ServiceConfig config = opt.config.empty() ? ServiceConfig{} : load_service_config(opt.config);
  SchedulerOptions so;
  so.threads = default_threads(opt.threads > 0 ? opt.threads : config.threads);
  so.max_queue = config.max_queue;
  so.max_running = config.max_running;
  so.kv_budget_bytes = config.kv_budget_bytes;
  workflow::set_jq_time_limit_ms(config.workflow_template_timeout_s * 1000);
  ModelManager models(config, so);
  GenerationService generation(models);
  ClassificationService classification(models, so.threads);
  ServiceStepCalls calls(generation, classification, config.image_fetch);
  PrintingJournal journal;
  workflow::ExecutionControl control;
  workflow::Engine engine(doc, calls, journal, control, opt.folder);
  const workflow::ExecutionOutcome out = engine.run(input);
  models.shutdown();
  json result = {{"status", workflow::execution_status_name(out.status)}};
  if (out.status == workflow::ExecutionStatus::kFinished) result["result"] = out.state;
  if (out.error) result["error"] = {{"errorCode", out.error->code}, {"message", out.error->message}};
  std::cout << result.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
  return out.status == workflow::ExecutionStatus::kFinished ? 0 : 1;
}

}  // namespace fm::cli
