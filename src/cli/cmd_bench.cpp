// `fmserve bench`: prompt processing and generation speed of a model, the decode bound from the memory bandwidth,
// and aggregate generation speed of concurrent sequences through the scheduler.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "runtime/scheduler.h"
#include "runtime/session.h"
#include "synth/model_synth.h"
#include "synth/sd_synth.h"
#include "tensor/bandwidth.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"
#include "util/memory.h"

namespace fm::cli {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

namespace {

// Weight bytes read to generate one token: every matrix once; the embedding table only when it is also the output.
size_t weight_bytes_per_token(const GgufFile& file) {
  const bool tied = file.find_tensor("output.weight") == nullptr;
  size_t bytes = 0;
  for (const auto& t : file.tensors())
    if (t.name != "token_embd.weight" || tied) bytes += t.n_bytes;
  return bytes;
}

// One profiled run: each stage's milliseconds per unit (decode token or prompt pass) and share of the wall time,
// the thread pool's loops and barrier waits, and what no stage covers (sampling, the session's bookkeeping).
nlohmann::ordered_json profile_report(const StageProfile& p, const ThreadPool& pool, double wall_s, int64_t units,
                                      const char* unit, const char* units_name) {
  nlohmann::ordered_json stages = nlohmann::ordered_json::object();
  const double per = 1e3 / static_cast<double>(units), count = static_cast<double>(units);
  const std::string u(unit);
  double staged = 0;
  for (size_t i = 0; i < p.seconds.size(); ++i) {
    if (p.calls[i] == 0) continue;
    staged += p.seconds[i];
    stages[stage_name(static_cast<Stage>(i))] = {{"ms_per_" + u, p.seconds[i] * per},
                                                 {"share", p.seconds[i] / wall_s},
                                                 {"calls_per_" + u, static_cast<double>(p.calls[i]) / count}};
  }
  nlohmann::ordered_json r;
  r[units_name] = units;
  r["ms_per_" + u] = wall_s * per;
  r["stages"] = std::move(stages);
  r["thread_pool"] = {{"loops_per_" + u, static_cast<double>(pool.profiled_loops()) / count},
                      {"barrier_ms_per_" + u, pool.barrier_seconds() * per},
                      {"barrier_share", pool.barrier_seconds() / wall_s}};
  r["outside_stages_ms_per_" + u] = (wall_s - staged) * per;
  return r;
}

// `--profile`: a decode run that samples as the API does by default (temperature 1, no filters) and one prompt
// pass, each with every stage timed; the unprofiled speeds above stay free of the timers.
nlohmann::ordered_json run_profile(const Model& model, ThreadPool& pool, const BenchOptions& opt,
                                   const std::vector<int32_t>& prompt) {
  nlohmann::ordered_json out;
  StageProfile p;
  {
    Session s(model, opt.tg + 2, 512, pool);
    const float* logits = s.eval(prompt.data(), 1);
    s.set_profile(&p);
    pool.clear_profile();
    pool.set_profiling(true);
    Sampler sampler(SamplingParams{1.0f, 0, 1.f, 0.f, 7});
    double sampling_s = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < opt.tg; ++i) {
      const auto ts = std::chrono::steady_clock::now();
      const int32_t t = sampler.sample(logits, s.n_vocab());
      sampling_s += seconds_since(ts);
      logits = s.decode(t);
    }
    const double wall = seconds_since(t0);
    pool.set_profiling(false);
    out["decode"] = profile_report(p, pool, wall, opt.tg, "token", "tokens");
    out["decode"]["sampling_ms_per_token"] = sampling_s * 1e3 / opt.tg;
    out["decode"]["sampling_share"] = sampling_s / wall;
  }
  {
    p.clear();
    Session s(model, opt.pp + 1, 512, pool);
    s.set_profile(&p);
    pool.clear_profile();
    pool.set_profiling(true);
    const auto t0 = std::chrono::steady_clock::now();
    s.eval(prompt.data(), opt.pp);
    const double wall = seconds_since(t0);
    pool.set_profiling(false);
    out["prefill"] = profile_report(p, pool, wall, 1, "pass", "passes");
    out["prefill"]["tokens_per_pass"] = opt.pp;
  }
  return out;
}

void print_profile(const nlohmann::ordered_json& part, const char* title, const char* unit) {
  const std::string per = std::string("ms_per_") + unit;
  std::cout << title << ": " << part[per].get<double>() << " ms per " << unit << "\n";
  for (const auto& [name, st] : part["stages"].items())
    std::cout << "  " << name << std::string(name.size() < 20 ? 20 - name.size() : 1, ' ') << st[per].get<double>()
              << " ms  " << 100 * st["share"].get<double>() << " %\n";
  const auto& tp = part["thread_pool"];
  std::cout << "  thread pool: " << tp["loops_per_" + std::string(unit)].get<double>() << " loops, barrier waits "
            << tp["barrier_ms_per_" + std::string(unit)].get<double>() << " ms ("
            << 100 * tp["barrier_share"].get<double>() << " %, inside the stages)\n";
  if (part.contains("sampling_ms_per_token"))
    std::cout << "  sampling (temperature 1): " << part["sampling_ms_per_token"].get<double>() << " ms  "
              << 100 * part["sampling_share"].get<double>() << " %\n";
}

}  // namespace

int run_bench(const BenchOptions& opt) {
  if (opt.pp < 1 || opt.tg < 1 || opt.concurrency < 0) throw std::invalid_argument("--pp and --tg must be >= 1");
  auto file = GgufFile::open(opt.model);
  auto model = load_model(*file);
  const int threads = default_threads(opt.threads);
  ThreadPool pool(threads);
  const int64_t n_vocab = model->hparams().n_vocab;
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(n_vocab - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(opt.pp));
  for (auto& t : prompt) t = token(rng);

  nlohmann::ordered_json report;
  report["model"] = opt.model;
  report["arch"] = model->hparams().arch;
  report["threads"] = threads;
  report["kernels"] = best_kernels().name;

  {  // prompt processing: one pass over pp tokens (in chunks of 512)
    Session s(*model, opt.pp + 1, 512, pool);
    s.eval(prompt.data(), std::min<int64_t>(opt.pp, 16));  // warm-up: page in the weights
    s.reset();
    const auto t0 = std::chrono::steady_clock::now();
    s.eval(prompt.data(), opt.pp);
    report["pp_tokens"] = opt.pp;
    report["pp_tokens_per_s"] = static_cast<double>(opt.pp) / seconds_since(t0);
  }
  {  // generation: one token at a time after a one-token prompt
    Session s(*model, opt.tg + 2, 512, pool);
    int32_t t = prompt[0];
    s.eval(&t, 1);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < opt.tg; ++i) {
      t = token(rng);
      s.decode(t);
    }
    report["tg_tokens"] = opt.tg;
    report["tg_tokens_per_s"] = static_cast<double>(opt.tg) / seconds_since(t0);
  }
  const size_t bytes = weight_bytes_per_token(*file);
  const double bandwidth = measure_read_bandwidth(pool);
  report["weight_bytes_per_token"] = bytes;
  report["bandwidth_gb_per_s"] = bandwidth / 1e9;
  report["decode_bound_tokens_per_s"] = bandwidth / static_cast<double>(bytes);
  report["decode_fraction_of_bound"] = report["tg_tokens_per_s"].get<double>() / (bandwidth / static_cast<double>(bytes));
  if (opt.profile) report["profile"] = run_profile(*model, pool, opt, prompt);

  if (opt.concurrency > 0) {  // C sequences through the continuous-batching scheduler
    SchedulerOptions so;
    so.threads = threads;
    so.n_ctx = 64 + opt.tg;
    so.max_running = opt.concurrency;
    so.max_batch_tokens = std::max(64, opt.concurrency);
    Scheduler scheduler(*model, so);
    std::mutex mutex;
    std::condition_variable cv;
    int remaining = opt.concurrency;
    const auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < opt.concurrency; ++c) {
      auto r = std::make_shared<SchedulerRequest>();
      r->prompt.assign(prompt.begin(), prompt.begin() + std::min<int64_t>(opt.pp, 16));
      r->prompt[0] = token(rng);
      r->max_tokens = opt.tg;
      r->sampling.temperature = 0;
      r->on_finish = [&](const std::vector<ChoiceResult>&, int64_t) {
        std::lock_guard<std::mutex> lock(mutex);
        if (--remaining == 0) cv.notify_all();
      };
      scheduler.submit(r);
    }
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return remaining == 0; });
    report["concurrency"] = opt.concurrency;
    report["aggregate_tokens_per_s"] = static_cast<double>(scheduler.stats().tokens_generated) / seconds_since(t0);
  }

  report["file_bytes"] = file->file_size();
  report["resident_bytes"] = resident_bytes();  // after every run above, weights and their last session's KV
  report["peak_resident_bytes"] = peak_resident_bytes();

  if (!opt.json) {
    std::cout << "model " << opt.model << " (" << model->hparams().arch << "), " << threads << " threads, "
              << best_kernels().name << " kernels\n"
              << "pp" << opt.pp << ": " << report["pp_tokens_per_s"].get<double>() << " tok/s\n"
              << "tg" << opt.tg << ": " << report["tg_tokens_per_s"].get<double>() << " tok/s (bound "
              << report["decode_bound_tokens_per_s"].get<double>() << " tok/s at " << bandwidth / 1e9 << " GB/s, "
              << bytes / 1e6 << " MB per token)\n";
    std::cout << "resident " << report["resident_bytes"].get<size_t>() / 1e6 << " MB, peak "
              << report["peak_resident_bytes"].get<size_t>() / 1e6 << " MB (file " << file->file_size() / 1e6
              << " MB)\n";
    if (opt.profile) {
      print_profile(report["profile"]["decode"], "decode", "token");
      print_profile(report["profile"]["prefill"], ("prefill of " + std::to_string(opt.pp) + " tokens").c_str(), "pass");
    }
    if (opt.concurrency > 0)
      std::cout << "aggregate with " << opt.concurrency << " sequences: " << report["aggregate_tokens_per_s"].get<double>() << " tok/s\n";
  }
  std::cout << report.dump() << std::endl;
  return 0;
}

}  // namespace fm::cli

namespace fm::cli {

int run_synth(const SynthOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::string> sd_shapes = sd_config_names();
  if (std::find(sd_shapes.begin(), sd_shapes.end(), opt.shape) != sd_shapes.end()) {
    const std::string type = opt.type.empty() ? "F32" : opt.type;
    if (type != "F32" && type != "F16" && type != "Q8_0")
      throw std::invalid_argument("diffusion checkpoints are written as F32, F16 or Q8_0 (GGUF only)");
    // The weight formula's default seed 0 gives the image-generation fixtures' checkpoint.
    const uint64_t seed = opt.seed_given ? opt.seed : 0;
    synthesize_sd_checkpoint(opt.shape, *tensor_type_from_name(type), seed, opt.output);
    std::clog << "fmserve: wrote " << opt.output << " in " << seconds_since(t0) << " s" << std::endl;
    return 0;
  }
  if (opt.type.empty()) throw std::invalid_argument("--type is required for this shape");
  SynthRequest request;
  request.arch = opt.arch;
  request.shape = opt.shape;
  request.type = opt.type;
  request.output = opt.output;
  request.seed = opt.seed;
  request.classifier_labels = opt.classifier_labels;
  request.multi_label = opt.multi_label;
  request.pooling = opt.pooling;
  request.vocab = opt.vocab;
  request.text_width = opt.text_width;
  synthesize_model(request);
  std::clog << "fmserve: wrote " << opt.output << " in " << seconds_since(t0) << " s" << std::endl;
  return 0;
}

}  // namespace fm::cli
