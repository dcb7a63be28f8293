#include "workflow/workflow_service.h"

#include "util/crash_point.h"
#include "workflow/yawl_document.h"

namespace fm::workflow {
namespace {

// The engine's journal over the store: one execution's step runs.
class StoreJournal final : public ExecutionJournal {
 public:
  StoreJournal(WorkflowStore& store, std::string execution_id) : store_(store), id_(std::move(execution_id)) {}

  std::optional<StepRecord> find(const std::string& key) override {
    std::optional<StoredStep> s = store_.step(id_, key);
    if (!s) return std::nullopt;
    StepRecord r;
    r.key = s->key;
    r.step_id = s->step_id;
    r.title = s->title;
    r.type = s->type;
    r.status = s->status;
    r.input = s->input;
    r.output = s->output;
    r.next = s->next;
    if (!s->error_code.empty()) r.error = StepError{s->error_code, s->error_message};
    r.attempts = s->attempts;
    r.started_ms = s->started_at_ms;
    r.finished_ms = s->finished_at_ms;
    return r;
  }

  void record(const StepRecord& r) override {
    StoredStep s;
    s.key = r.key;
    s.step_id = r.step_id;
    s.title = r.title;
    s.type = r.type;
    s.status = r.status;
    s.input = r.input;
    s.output = r.output;
    s.next = r.next;
    if (r.error) {
      s.error_code = r.error->code;
      s.error_message = r.error->message;
    }
    s.attempts = r.attempts;
    s.started_at_ms = r.started_ms;
    s.finished_at_ms = r.finished_ms;
    store_.add_step(id_, s);
    if (r.type == "foundationModelsCall" && r.status == "FINISHED") crash_point("workflow.model_call_recorded");
  }

 private:
  WorkflowStore& store_;
  std::string id_;
};

ExecutionRecord execution_of(const Operation& op) {
  ExecutionRecord e;
  e.id = op.id;
  e.workflow_id = op.request.value("workflow_id", std::string());
  e.folder = op.folder;
  e.created_by = op.created_by;
  e.input = json::parse(op.request.value("input", nlohmann::json(nullptr)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return e;
}

ServiceError not_found(const std::string& what, const std::string& id) {
  return ServiceError(ErrorCode::kNotFound, what + " '" + id + "' does not exist", "not_found");
}

void check_document(const std::string& spec_yaml) {
  if (spec_yaml.size() > (size_t{1} << 20)) throw invalid_argument("specification.specYaml is larger than 1 MiB");
  try {
    parse_document(spec_yaml);
  } catch (const DocumentError& e) {
    throw invalid_argument(e.what(), "invalid_workflow");
  }
}

}  // namespace

json workflow_document(const WorkflowRecord& w) { return parse_document(w.spec_yaml); }

WorkflowService::WorkflowService(WorkflowStore& store, OperationRunner& runner, StepCalls& calls, EngineOptions options)
    : store_(store), runner_(runner), calls_(calls), options_(std::move(options)) {}

WorkflowService::~WorkflowService() {
  std::map<std::string, Running> running;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running.swap(running_);
  }
  for (auto& [id, r] : running) {
    r.control->terminate = true;
    if (r.thread.joinable()) r.thread.join();
  }
}

WorkflowRecord WorkflowService::create(WorkflowRecord w) {
  if (w.name.empty()) throw invalid_argument("name is required");
  check_document(w.spec_yaml);
  return store_.create_workflow(std::move(w));
}

WorkflowRecord WorkflowService::get(const std::string& folder, const std::string& id) const {
  std::optional<WorkflowRecord> w = store_.workflow(id);
  if (!w || w->folder != folder) throw not_found("workflow", id);
  return *w;
}

WorkflowRecord WorkflowService::update(const std::string& folder, WorkflowRecord w) {
  get(folder, w.id);
  check_document(w.spec_yaml);
  store_.update_workflow(w);
  return get(folder, w.id);
}

void WorkflowService::remove(const std::string& folder, const std::string& id) {
  get(folder, id);
  store_.delete_workflow(id);
}

WorkflowPage WorkflowService::list(const std::string& folder, size_t page_size, const std::string& page_token) const {
  WorkflowPage page;
  page.workflows = store_.workflows(folder, page_size + 1, page_token);
  if (page.workflows.size() > page_size) {
    page.workflows.resize(page_size);
    page.next_page_token = page.workflows.back().id;
  }
  return page;
}

std::string WorkflowService::start_execution(const std::string& folder, const std::string& workflow_id, const json& input,
                                             const std::string& created_by) {
  const WorkflowRecord w = get(folder, workflow_id);
  // The operation carries everything the execution needs: its run stores the execution when this thread has not yet
  // (the runner may start it at once, or after a crash in between).
  const Operation op = runner_.submit(folder, kExecutionOperation, "Workflow execution", created_by,
                                      nlohmann::json{{"workflow_id", workflow_id}, {"input", nlohmann::json::parse(input.dump(-1, ' ', false, json::error_handler_t::replace))}});
  store_.create_execution(execution_of(op));
  return op.id;
}

ExecutionRecord WorkflowService::execution(const std::string& folder, const std::string& id) const {
  std::optional<ExecutionRecord> e = store_.execution(id);
  if (!e || e->folder != folder) throw not_found("execution", id);
  return *e;
}

std::vector<StoredStep> WorkflowService::history(const std::string& folder, const std::string& id) const {
  execution(folder, id);
  return store_.steps(id);
}

ExecutionRecord WorkflowService::end_request(const std::string& folder, const std::string& id, bool terminate) {
  const ExecutionRecord e = execution(folder, id);
  if (e.status != "QUEUED" && e.status != "RUNNING") return e;
  store_.request_stop(id);
  std::shared_ptr<ExecutionControl> control;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = running_.find(id);
    if (it != running_.end() && !it->second.done) control = it->second.control;
  }
  if (control) {
    (terminate ? control->terminate : control->stop) = true;
  } else {
    // Not running: it ends here, and its queued operation with it.
    store_.finish_execution(id, "STOPPED", std::nullopt, "", "");
    runner_.cancel(id);
  }
  return execution(folder, id);
}

ExecutionRecord WorkflowService::stop(const std::string& folder, const std::string& id) { return end_request(folder, id, false); }
ExecutionRecord WorkflowService::terminate(const std::string& folder, const std::string& id) { return end_request(folder, id, true); }

WorkflowCallCounts WorkflowService::counts() const {
  return {calls_.model_calls.load(), calls_.http_calls.load(), finished_.load(), failed_.load()};
}

ExecutionPage WorkflowService::executions(const std::string& folder, const std::string& workflow_id, size_t page_size,
                                          const std::string& page_token) const {
  ExecutionPage page;
  page.executions = store_.executions(folder, workflow_id, page_size + 1, page_token);
  if (page.executions.size() > page_size) {
    page.executions.resize(page_size);
    page.next_page_token = page.executions.back().id;
  }
  return page;
}

void WorkflowService::reap_finished() {
  std::vector<std::thread> done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second.done) {
        done.push_back(std::move(it->second.thread));
        it = running_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& t : done)
    if (t.joinable()) t.join();
}

void WorkflowService::start(std::shared_ptr<OperationRun> run) {
  reap_finished();
  auto control = std::make_shared<ExecutionControl>();
  run->on_cancel([control] { control->terminate = true; });
  std::thread earlier;  // an earlier run of the same execution (it has ended: the runner started this one)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    earlier = std::move(running_[run->operation().id].thread);
  }
  if (earlier.joinable()) earlier.join();  // outside the lock: the ending run takes it to mark itself done
  std::lock_guard<std::mutex> lock(mutex_);
  Running& r = running_[run->operation().id];
  r.control = control;
  r.done = false;
  r.thread = std::thread([this, run, control] { run_execution(run, control); });
}

void WorkflowService::cancelled(const Operation& op) {
  store_.finish_execution(op.id, "STOPPED", std::nullopt, "", "");
}

void WorkflowService::run_execution(std::shared_ptr<OperationRun> run, std::shared_ptr<ExecutionControl> control) {
  const std::string id = run->operation().id;
  const auto finish = [&](const json& response) {
    runner_.store().complete(id, response);
    run->finish();
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = running_.find(id);
    if (it != running_.end()) it->second.done = true;
  };
  store_.create_execution(execution_of(run->operation()));  // when start_execution has not stored it yet
  std::optional<ExecutionRecord> e = store_.execution(id);
  if (!e || (e->status != "QUEUED" && e->status != "RUNNING")) return finish(nlohmann::json{{"status", e ? e->status : "GONE"}});
  if (e->stop_requested) {
    store_.finish_execution(id, "STOPPED", std::nullopt, "", "");
    return finish(nlohmann::json{{"status", "STOPPED"}});
  }
  std::optional<WorkflowRecord> w = store_.workflow(e->workflow_id);
  if (!w) {
    store_.finish_execution(id, "FAILED", std::nullopt, "STEP_INTERNAL", "the workflow was deleted before its execution ran");
    return finish(nlohmann::json{{"status", "FAILED"}});
  }
  store_.set_running(id);
  StoreJournal journal(store_, id);
  ExecutionOutcome out;
  try {
    const json doc = workflow_document(*w);
    Engine engine(doc, calls_, journal, *control, e->folder, options_);
    out = engine.run(e->input);
  } catch (const std::exception& ex) {
    out.status = ExecutionStatus::kFailed;
    out.error = StepError{"STEP_INTERNAL", ex.what()};
  }
  if (out.status == ExecutionStatus::kStopped && run->stopping()) {
    // The process is stopping: the execution stays RUNNING and the next start resumes it.
    run->finish();
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = running_.find(id);
    if (it != running_.end()) it->second.done = true;
    return;
  }
  if (out.status == ExecutionStatus::kFinished) {
    store_.finish_execution(id, "FINISHED", out.state, "", "");
    ++finished_;
  } else if (out.status == ExecutionStatus::kFailed) {
    store_.finish_execution(id, "FAILED", std::nullopt, out.error->code, out.error->message);
    ++failed_;
  }
  else {
    store_.finish_execution(id, "STOPPED", std::nullopt, "", "");
  }
  finish(nlohmann::json{{"status", execution_status_name(out.status)}});
}

}  // namespace fm::workflow
