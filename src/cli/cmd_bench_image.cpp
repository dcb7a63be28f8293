// `fmserve bench --mmproj MMPROJ --image FILE`: image encode time (decode + preprocess separately) and the speed
// of the image tokens' prefill through the text model, as JSON.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "image/image.h"
#include "model/model.h"
#include "runtime/session.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"
#include "util/read_file.h"
#include "vision/vision_encoder.h"

namespace fm::cli {

double seconds_since(std::chrono::steady_clock::time_point t0);  // cmd_bench.cpp

int run_image_bench(const BenchOptions& opt) {
  if (opt.image.empty()) throw std::invalid_argument("--mmproj needs --image");
  if (opt.repeat < 1) throw std::invalid_argument("--repeat must be >= 1");
  auto file = GgufFile::open(opt.model);
  auto model = load_model(*file);
  auto projector_file = GgufFile::open(opt.mmproj);
  auto encoder = load_vision_encoder(*projector_file);
  if (encoder->n_embd_text() != model->hparams().n_embd)
    throw std::invalid_argument("the projector writes " + std::to_string(encoder->n_embd_text()) +
                                "-wide embeddings; the model is " + std::to_string(model->hparams().n_embd) + " wide");
  const int threads = default_threads(opt.threads);
  ThreadPool pool(threads);
  ScratchBuffer scratch;
  Compute c{&pool, &best_kernels(), &scratch};
  const std::string bytes = read_file(opt.image);

  nlohmann::ordered_json report;
  report["model"] = opt.model;
  report["mmproj"] = opt.mmproj;
  report["projector"] = encoder->projector_type();
  report["threads"] = threads;
  report["kernels"] = best_kernels().name;
  auto t0 = std::chrono::steady_clock::now();
  const RgbImage rgb = decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  const PreprocessedImage pre = encoder->preprocess(rgb);
  report["decode_preprocess_ms"] = 1e3 * seconds_since(t0);
  ImageEmbedding embd;
  std::vector<double> encode_ms;
  for (int i = 0; i < opt.repeat; ++i) {  // the first run also pages the weights in
    t0 = std::chrono::steady_clock::now();
    embd = encoder->encode(c, pre);
    encode_ms.push_back(1e3 * seconds_since(t0));
  }
  report["image_tokens"] = embd.n_tokens;
  report["encode_ms"] = encode_ms;
  report["encode_ms_best"] = *std::min_element(encode_ms.begin(), encode_ms.end());

  Session session(*model, embd.n_tokens + 8, 512, pool);
  session.eval_image(embd.data.data(), embd.n_tokens, embd.grid_nx, nullptr);  // warm-up
  session.reset();
  t0 = std::chrono::steady_clock::now();
  session.eval_image(embd.data.data(), embd.n_tokens, embd.grid_nx, nullptr);
  report["image_prefill_tokens_per_s"] = static_cast<double>(embd.n_tokens) / seconds_since(t0);
  if (!opt.json)
    std::cout << encoder->projector_type() << " image (" << embd.n_tokens << " tokens): encode "
              << report["encode_ms_best"].get<double>() << " ms (best of " << opt.repeat << "), prefill "
              << report["image_prefill_tokens_per_s"].get<double>() << " tok/s, " << threads << " threads\n";
  std::cout << report.dump() << std::endl;
  return 0;
}

}  // namespace fm::cli
