// `fmserve bench --embed TEXTS`: embedding throughput, every line of TEXTS one input, through the Embedder as the
// server runs embedding requests (whole inputs packed into passes of --batch tokens). Prints JSON.
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/embedder.h"
#include "tensor/kernels/kernel_table.h"
#include "tokenizer/tokenizer.h"

namespace fm::cli {

double seconds_since(std::chrono::steady_clock::time_point t0);  // cmd_bench.cpp

int run_embed_bench(const BenchOptions& opt) {
  std::ifstream in(opt.embed_texts);
  if (!in) throw std::runtime_error("cannot open '" + opt.embed_texts + "'");
  auto file = GgufFile::open(opt.model);
  auto model = load_model(*file);
  auto tokenizer = make_tokenizer(*file);
  std::vector<std::vector<int32_t>> inputs;
  int64_t tokens = 0, longest = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    inputs.push_back(tokenizer->encode(line, /*add_special=*/true));
    tokens += static_cast<int64_t>(inputs.back().size());
    longest = std::max<int64_t>(longest, static_cast<int64_t>(inputs.back().size()));
  }
  if (inputs.empty()) throw std::invalid_argument("no texts in '" + opt.embed_texts + "'");
  EmbedderOptions eo;
  eo.max_input = longest;
  eo.max_batch_tokens = std::max<int64_t>(opt.embed_batch, longest);
  eo.max_queue = static_cast<int>(inputs.size());
  eo.threads = default_threads(opt.threads);
  Embedder embedder(*model, eo);
  const EmbeddingOptions options = embedding_defaults(*file);
  embedder.embed_all({inputs.begin(), inputs.begin() + std::min<size_t>(inputs.size(), 8)}, options);  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  embedder.embed_all(inputs, options);
  const double seconds = seconds_since(t0);
  nlohmann::ordered_json report;
  report["model"] = opt.model;
  report["arch"] = model->hparams().arch;
  report["threads"] = eo.threads;
  report["kernels"] = best_kernels().name;
  report["texts"] = inputs.size();
  report["tokens"] = tokens;
  report["batch_tokens"] = eo.max_batch_tokens;
  report["seconds"] = seconds;
  report["texts_per_s"] = static_cast<double>(inputs.size()) / seconds;
  report["tokens_per_s"] = static_cast<double>(tokens) / seconds;
  if (!opt.json)
    std::cout << inputs.size() << " texts (" << tokens << " tokens) in " << seconds << " s: "
              << report["texts_per_s"].get<double>() << " texts/s\n";
  std::cout << report.dump() << std::endl;
  return 0;
}

}  // namespace fm::cli
