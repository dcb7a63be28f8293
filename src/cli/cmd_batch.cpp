// `fmserve batch run`: every row of a JSON Lines file through the same engine and batch line runner the server's
// batch tasks use, at full speed (no interactive traffic to yield to). Each row's result is stored in a state
// directory as it finishes, so the same command after an interruption (Ctrl-C, a kill, a crash) resumes where it
// stopped; the output is written once every row has a result.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "cli/commands.h"
#include "service/batch_lines.h"
#include "service/dataset_rows.h"
#include "service/generation_service.h"
#include "service/model_manager.h"
#include "store/batch_store.h"
#include "store/operation_store.h"

namespace fm::cli {
namespace {

std::atomic<bool> g_interrupted{false};
void on_interrupt(int) { g_interrupted = true; }

std::string format_eta(double seconds) {
  if (!(seconds >= 0) || seconds > 99 * 3600) return "--";
  const long s = static_cast<long>(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

// Rows done/total, tokens/s and ETA: redrawn in place on a terminal, else a plain line every 10 s.
class ProgressReport {
 public:
  ProgressReport(const std::string& mode) : bar_(mode == "bar" || (mode == "auto" && ::isatty(2))), quiet_(mode == "none") {}

  void update(const BatchLinesProgress& p, bool final = false) {
    if (quiet_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    const auto since_print = now - last_print_;
    if (!final && since_print < (bar_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(10000))) return;
    last_print_ = now;
    if (first_done_ < 0) first_done_ = p.done;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rows_per_s = elapsed > 0 ? (p.done - first_done_) / elapsed : 0;
    const double tokens_per_s = elapsed > 0 ? p.completion_tokens / elapsed : 0;
    const double eta = rows_per_s > 0 ? (p.rows - p.done) / rows_per_s : -1;
    char line[200];
    if (bar_) {
      const int width = 30;
      const int filled = p.rows > 0 ? static_cast<int>(width * p.done / p.rows) : width;
      std::string bar(static_cast<size_t>(filled), '#');
      bar.resize(width, '.');
      std::snprintf(line, sizeof line, "\r[%s] %lld/%lld rows  %.1f tok/s  ETA %s  ", bar.c_str(), static_cast<long long>(p.done),
                    static_cast<long long>(p.rows), tokens_per_s, format_eta(eta).c_str());
      std::cerr << line << (final ? "\n" : "") << std::flush;
    } else {
      std::snprintf(line, sizeof line, "batch: %lld/%lld rows, %lld failed, %.1f tok/s, ETA %s", static_cast<long long>(p.done),
                    static_cast<long long>(p.rows), static_cast<long long>(p.failed), tokens_per_s, format_eta(eta).c_str());
      std::cerr << line << std::endl;
    }
  }

 private:
  bool bar_, quiet_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_print_{};
  int64_t first_done_ = -1;
};

// The state's task for this input and model: resumed when it exists, else created.
BatchTask open_task(BatchStore& store, const BatchRunOptions& opt, const nlohmann::json& base) {
  const std::string input = std::filesystem::absolute(opt.input).string();
  const std::string model = opt.model + "/" + opt.branch;
  std::optional<BatchTask> found;
  for (const BatchTask& t : store.list("cli", 1000, "").tasks)
    if (t.source_dataset_id == input && t.model_uri == model) found = t;
  if (found) {
    if (found->generation != base)
      throw std::runtime_error("the state directory holds a run of this input with other options; remove it or pass --state");
    return *found;
  }
  BatchTask t;
  t.folder = "cli";
  t.model_uri = model;
  t.source_dataset_id = input;
  t.generation = base;
  t.status = kTaskInProgress;
  t.started_at_ms = now_ms();
  return store.create(std::move(t));
}

}  // namespace

int run_batch(const BatchRunOptions& opt) {
  if (!std::filesystem::exists(opt.input)) throw std::invalid_argument("cannot read --input '" + opt.input + "'");
  ServiceConfig config = load_service_config(opt.config);
  const ModelConfig* model = config.find(opt.model);
  if (!model) throw std::invalid_argument("model '" + opt.model + "' is not in " + opt.config);
  if (!model->branches.count(opt.branch)) throw std::invalid_argument("model '" + opt.model + "' has no branch '" + opt.branch + "'");
  const std::string state = opt.state.empty() ? opt.output + ".state" : opt.state;
  std::filesystem::create_directories(state);
  auto store = open_sqlite_batch_store(state);

  GenerationRequest base;
  base.model = opt.model;
  base.branch = opt.branch;
  base.sampling.temperature = opt.temperature;
  if (opt.max_tokens > 0) base.max_tokens = opt.max_tokens;
  base.max_tokens_is_ceiling = true;
  base.timeout = std::chrono::hours(24);
  const nlohmann::json base_json = to_json(base);
  BatchTask task = open_task(*store, opt, base_json);

  SchedulerOptions so;
  so.threads = default_threads(opt.threads > 0 ? opt.threads : config.threads);
  so.max_queue = config.max_queue;
  so.max_running = config.max_running;
  so.kv_budget_bytes = config.kv_budget_bytes;
  ModelManager models(config, so);
  GenerationService generation(models);

  BatchLinesJob job;
  job.task_id = task.id;
  job.source_path = opt.input;
  const DatasetRowsFormat format(kImageTextToTextRequest, /*errors_inline=*/true);  // text-only rows and rows with images
  job.format = &format;
  job.base = base_json;
  job.in_flight = opt.lines_in_flight > 0 ? opt.lines_in_flight : config.batch_lines_in_flight;

  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  ProgressReport report(opt.progress);
  BatchLinesProgress last;
  std::mutex last_mutex;
  const BatchLinesEnd end = run_batch_lines(*store, BatchEngines{generation}, job, [] { return g_interrupted.load(); },
                                            [&](const BatchLinesProgress& p) {
                                              {
                                                std::lock_guard<std::mutex> lock(last_mutex);
                                                last = p;
                                              }
                                              report.update(p);
                                            });
  models.shutdown();
  {
    std::lock_guard<std::mutex> lock(last_mutex);
    if (last.rows == 0) last.rows = count_rows(opt.input, job.max_line_bytes);
    if (last.done == 0) last.done = static_cast<int64_t>(store->finished_lines(task.id).size());
    report.update(last, /*final=*/true);
  }
  if (end == BatchLinesEnd::kCancelled) {
    std::cerr << "fmserve: interrupted; run the same command to resume (" << state << ")" << std::endl;
    return 130;
  }
  const int64_t written = write_batch_results(*store, job, opt.output, BatchOutput::kResults);
  const std::vector<LineError> errors = store->line_errors(task.id, 5);
  task.status = kTaskCompleted;
  task.finished_at_ms = now_ms();
  store->put(task);
  std::cerr << "fmserve: wrote " << written << " rows to " << opt.output;
  if (!errors.empty()) std::cerr << " (some failed, e.g. line " << errors[0].line << ": " << errors[0].message << ")";
  std::cerr << std::endl;
  return 0;
}

}  // namespace fm::cli
