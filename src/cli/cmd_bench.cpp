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
#include "runtime/scheduler.h"
#include "runtime/session.h"
#include "synth/model_synth.h"
#include "synth/sd_synth.h"
#include "tensor/bandwidth.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

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

  if (!opt.json) {
    std::cout << "model " << opt.model << " (" << model->hparams().arch << "), " << threads << " threads, "
              << best_kernels().name << " kernels\n"
              << "pp" << opt.pp << ": " << report["pp_tokens_per_s"].get<double>() << " tok/s\n"
              << "tg" << opt.tg << ": " << report["tg_tokens_per_s"].get<double>() << " tok/s (bound "
              << report["decode_bound_tokens_per_s"].get<double>() << " tok/s at " << bandwidth / 1e9 << " GB/s, "
              << bytes / 1e6 << " MB per token)\n";
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
