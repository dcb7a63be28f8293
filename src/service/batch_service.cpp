#include "service/batch_service.h"

#include <chrono>
#include <filesystem>
#include <iostream>

#include "service/batch_lines.h"
#include "service/dataset_rows.h"
#include "service/service_error.h"
#include "util/crash_point.h"

namespace fm {

namespace {

using json = nlohmann::json;

ServiceError task_not_found(const std::string& id) {
  return ServiceError(ErrorCode::kNotFound, "batch task '" + id + "' not found", "not_found");
}

json metadata_json(const BatchTask& task, int64_t done, int64_t total) {
  return {{"@type", "type.googleapis.com/yandex.cloud.ai.foundation_models.v1.BatchCompletionMetadata"},
          {"taskId", task.id}, {"taskStatus", task.status}, {"completedBatches", std::to_string(done)},
          {"totalBatches", std::to_string(total)}};
}

json response_json(const BatchTask& task) {
  return {{"@type", "type.googleapis.com/yandex.cloud.ai.foundation_models.v1.BatchCompletionResponse"},
          {"taskId", task.id}, {"taskStatus", task.status}, {"resultDatasetId", task.result_dataset_id}};
}

}  // namespace

BatchService::BatchService(BatchStore& store, DatasetService& datasets, BatchEngines engines, OperationRunner& runner,
                           BatchOptions options)
    : store_(store), datasets_(datasets), engines_(engines), runner_(runner), options_(options) {
  // Text rows and rows with images alike (validation has held each dataset's rows to its own task type).
  add_format("", std::make_shared<DatasetRowsFormat>(kImageTextToTextRequest, /*errors_inline=*/false),
             {kTextToTextRequest, kImageTextToTextRequest}, kTextToText);
  // A task stored by a process killed before it stored the task's operation can never run: it failed.
  for (BatchTask& t : store_.unfinished()) {
    if (!t.operation_id.empty() || t.status != kTaskCreated) continue;
    t.status = kTaskFailed;
    t.failure = "the server stopped before the task was queued";
    t.finished_at_ms = now_ms();
    store_.put(t);
  }
}

BatchService::~BatchService() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& w : workers_) w.thread.join();
}

void BatchService::add_format(const std::string& dialect, std::shared_ptr<const BatchFormat> format,
                              std::vector<std::string> source_task_types, const std::string& result_task_type) {
  std::lock_guard<std::mutex> lock(formats_mutex_);
  formats_[dialect] = Format{std::move(format), std::move(source_task_types), result_task_type};
}

BatchService::Format BatchService::format_of(const BatchTask& task) const {
  std::lock_guard<std::mutex> lock(formats_mutex_);
  auto it = formats_.find(task.dialect);
  if (it == formats_.end()) throw std::runtime_error("no batch format for dialect '" + task.dialect + "'");
  return it->second;
}

std::pair<BatchTask, Operation> BatchService::submit(BatchTask task) {
  const Format format = format_of(task);
  const Dataset source = datasets_.get(task.folder, task.source_dataset_id);  // NOT_FOUND for another folder's
  if (source.status != kDatasetReady)
    throw ServiceError(ErrorCode::kFailedPrecondition, "dataset '" + source.id + "' is " + source.status + ": a batch needs a READY dataset",
                       "failed_precondition");
  if (std::find(format.source_types.begin(), format.source_types.end(), source.task_type) == format.source_types.end()) {
    std::string allowed;
    for (const auto& t : format.source_types) allowed += (allowed.empty() ? "" : " or ") + t;
    throw invalid_argument("dataset '" + source.id + "' is of task type " + source.task_type + "; this batch takes " + allowed);
  }
  const GenerationRequest base = generation_request_from_json(task.generation);  // what every line would be refused for
  GenerationService::check_supported(base);
  GenerationService::check_output_format(base);
  if (task.total_lines == 0) task.total_lines = source.rows;
  task = store_.create(std::move(task));
  Operation op = runner_.submit(task.folder, kBatchOperation, "Batch completion", task.created_by, {{"taskId", task.id}});
  task.operation_id = op.id;
  store_.put(task);
  op.metadata = metadata_json(task, 0, task.total_lines);
  runner_.store().set_metadata(op.id, op.metadata);
  return {task, op};
}

BatchTask BatchService::record_failed(BatchTask task) {
  task.status = kTaskFailed;
  task.operation_id = "-";  // never runs
  task = store_.create(std::move(task));
  task.finished_at_ms = task.created_at_ms;
  store_.put(task);
  return task;
}

BatchTask BatchService::get(const std::string& folder, const std::string& id) const {
  std::optional<BatchTask> t = store_.get(id);
  if (!t || t->folder != folder) throw task_not_found(id);
  return *t;
}

BatchTaskPage BatchService::list(const std::string& folder, size_t page_size, const std::string& page_token) const {
  try {
    return store_.list(folder, page_size, page_token);
  } catch (const std::invalid_argument& e) {
    throw invalid_argument(e.what());
  }
}

std::vector<LineError> BatchService::line_errors(const std::string& id, size_t limit) const { return store_.line_errors(id, limit); }

BatchTask BatchService::cancel(const std::string& folder, const std::string& id) {
  BatchTask task = get(folder, id);
  if (is_terminal_task_status(task.status))
    throw ServiceError(ErrorCode::kFailedPrecondition, "batch task '" + id + "' has ended (" + task.status + ")", "failed_precondition");
  task.extra["cancelling_at"] = now_ms();
  store_.put_if_status(task, task.status);
  runner_.cancel(task.operation_id);  // marks the task CANCELED (cancelled()) and stops its run
  return get(folder, id);
}

void BatchService::remove(const std::string& folder, const std::string& id) {
  const BatchTask task = get(folder, id);
  if (!is_terminal_task_status(task.status))
    throw ServiceError(ErrorCode::kFailedPrecondition, "batch task '" + id + "' is " + task.status + ": cancel it first", "failed_precondition");
  store_.remove(id);
}

void BatchService::cancelled(const Operation& op) {
  std::optional<BatchTask> task = store_.get(op.request.value("taskId", ""));
  if (!task || is_terminal_task_status(task->status)) return;
  const std::string was = task->status;
  task->status = kTaskCanceled;
  task->finished_at_ms = now_ms();
  store_.put_if_status(*task, was);
  // A task that was running publishes its finished lines when its run ends; one that never ran has none.
}

void BatchService::start(std::shared_ptr<OperationRun> run) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = workers_.begin(); it != workers_.end();) {  // threads of runs that have ended
    if (!it->ended->load()) {
      ++it;
      continue;
    }
    it->thread.join();
    it = workers_.erase(it);
  }
  auto ended = std::make_shared<std::atomic<bool>>(false);
  workers_.push_back({std::thread([this, run, ended] {
                        try {
                          run_task(run);
                        } catch (const std::exception& e) {
                          std::clog << "fmserve: batch operation " << run->operation().id << " stopped: " << e.what() << std::endl;
                          after_fault(*run, e.what());
                        }
                        run->finish();
                        ended->store(true);
                      }),
                      ended});
}

// Writes the results out as the task's result dataset (and, for dialects that keep them apart, the failed lines as
// its error dataset). Idempotent: a run interrupted while publishing publishes again.
// A run that stopped on a fault (the store or the disk failed, or a bug) is retried after a pause; the third fault
// of a task fails it, so that a fault that does not go away cannot keep the runner busy.
void BatchService::after_fault(OperationRun& run, const std::string& what) {
  constexpr int kMaxFaults = 3;
  try {
    std::optional<BatchTask> task = store_.get(run.operation().request.value("taskId", ""));
    if (!task) return;
    const int faults = task->extra.value("faults", 0) + 1;
    task->extra["faults"] = faults;
    if (faults >= kMaxFaults && !is_terminal_task_status(task->status)) {
      task->status = kTaskFailed;
      task->failure = "the task stopped on an internal error: " + what;
      task->finished_at_ms = now_ms();
      store_.put(*task);
      runner_.store().fail(run.operation().id, {static_cast<int>(ErrorCode::kInternal), task->failure});
      return;
    }
    store_.put(*task);
  } catch (const std::exception&) {  // the store itself is failing: only the pause is left
  }
  for (int i = 0; i < 20 && !run.cancelled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

void BatchService::publish(BatchTask& task) {
  const Format format = format_of(task);
  std::optional<Dataset> result = task.result_dataset_id.empty() ? std::nullopt : datasets_.find(task.result_dataset_id);
  if (!result) return;
  BatchLinesJob job;
  job.task_id = task.id;
  job.source_path = datasets_.content_path(task.source_dataset_id);
  job.format = format.format.get();
  const std::string file = datasets_.scratch_dir(result->id) + "/result.jsonl";
  std::filesystem::create_directories(datasets_.scratch_dir(result->id));
  result->rows = write_batch_results(store_, job, file, BatchOutput::kResults);
  datasets_.publish(*result, file);
  if (task.dialect.empty() || store_.line_errors(task.id, 1).empty()) return;
  std::optional<Dataset> errors = task.error_dataset_id.empty() ? std::nullopt : datasets_.find(task.error_dataset_id);
  if (!errors) {
    DatasetDraft draft;
    draft.name = "batch-" + task.id + "-errors";
    draft.task_type = format.result_type;
    draft.metadata = "batch_output";
    errors = datasets_.reserve(task.folder, task.created_by, draft);
    task.error_dataset_id = errors->id;
    store_.put(task);
  }
  const std::string error_file = datasets_.scratch_dir(errors->id) + "/errors.jsonl";
  std::filesystem::create_directories(datasets_.scratch_dir(errors->id));
  errors->rows = write_batch_results(store_, job, error_file, BatchOutput::kErrors);
  datasets_.publish(*errors, error_file);
}

std::string BatchService::reserve_result_once(const BatchTask& task, const DatasetDraft& draft) {
  // A process killed after reserving the result but before storing PENDING left that draft behind: reuse it.
  DatasetQuery query;
  query.folder = task.folder;
  query.statuses = {kDatasetDraft};
  query.name_pattern = draft.name;
  for (const Dataset& d : datasets_.list(query).datasets) {
    auto label = d.labels.find("foundation_models_batch_task_id");
    if (d.name == draft.name && label != d.labels.end() && label->second == task.id) return d.id;
  }
  return datasets_.reserve(task.folder, task.created_by, draft).id;
}

void BatchService::run_task(std::shared_ptr<OperationRun> run) {
  const Operation& op = run->operation();
  OperationStore& ops = runner_.store();
  std::optional<BatchTask> found = store_.get(op.request.value("taskId", ""));
  if (!found) {
    ops.fail(op.id, {static_cast<int>(ErrorCode::kNotFound), "the batch task was deleted"});
    return;
  }
  BatchTask task = *found;
  if (task.operation_id.empty()) {  // the process stopped between storing the operation and the task's link to it
    task.operation_id = op.id;
    store_.put(task);
  }
  if (task.status == kTaskCompleted) {
    ops.complete(op.id, response_json(task));
    return;
  }
  if (is_terminal_task_status(task.status)) {
    ops.fail(op.id, {static_cast<int>(task.status == kTaskCanceled ? ErrorCode::kCancelled : ErrorCode::kInternal),
                     task.failure.empty() ? "the batch task ended " + task.status : task.failure});
    return;
  }
  std::optional<Dataset> source = datasets_.find(task.source_dataset_id);
  if (!source || source->status != kDatasetReady) {
    task.status = kTaskFailed;
    task.failure = "the source dataset '" + task.source_dataset_id + "' is gone";
    task.finished_at_ms = now_ms();
    store_.put(task);
    ops.fail(op.id, {static_cast<int>(ErrorCode::kFailedPrecondition), task.failure});
    return;
  }
  if (task.status == kTaskCreated) {  // CREATED -> PENDING: the result dataset is reserved
    DatasetDraft draft;
    draft.name = "batch-" + task.id;
    draft.task_type = format_of(task).result_type;
    if (!task.dialect.empty()) draft.metadata = "batch_output";
    draft.labels = {{"foundation_models_batch_task_id", task.id}, {"foundation_models_source_dataset", task.source_dataset_id}};
    task.result_dataset_id = reserve_result_once(task, draft);
    crash_point("batch.result_reserved");
    task.status = kTaskPending;
    if (!store_.put_if_status(task, kTaskCreated)) return;  // cancelled meanwhile
  }
  if (task.status == kTaskPending) {
    task.status = kTaskInProgress;
    task.started_at_ms = now_ms();
    if (!store_.put_if_status(task, kTaskPending)) return;
  }
  BatchLinesJob job;
  job.task_id = task.id;
  job.source_path = datasets_.content_path(task.source_dataset_id);
  const Format format = format_of(task);
  job.format = format.format.get();
  job.base = task.generation;
  job.in_flight = options_.lines_in_flight;
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  const BatchLinesEnd end = run_batch_lines(store_, engines_, job, [&run] { return run->cancelled(); },
                                            [&](const BatchLinesProgress& p) {
                                              const auto now = std::chrono::steady_clock::now();
                                              if (now - *last < std::chrono::seconds(1) && p.done < p.rows) return;
                                              *last = now;
                                              try {
                                                ops.set_metadata(op.id, metadata_json(task, p.done, p.rows));
                                              } catch (const std::exception&) {}  // progress only: the next call retries
                                            });
  if (run->stopping()) return;  // the next start resumes the task
  const std::optional<BatchTask> now = store_.get(task.id);
  if (!now) return;
  task = *now;
  if (end == BatchLinesEnd::kCancelled || task.status == kTaskCanceled) {
    publish(task);  // the finished lines are kept
    return;
  }
  publish(task);
  task.status = kTaskCompleted;
  task.finished_at_ms = now_ms();
  if (!store_.put_if_status(task, kTaskInProgress)) return;
  const int64_t rows = count_rows(job.source_path, job.max_line_bytes);
  ops.set_metadata(op.id, metadata_json(task, rows, rows));
  ops.complete(op.id, response_json(task));
}

}  // namespace fm
