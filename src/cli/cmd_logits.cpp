// `fmserve logits`: evaluate token ids as one prompt, optionally write every position's logits and continue
// greedily. The output layout matches the golden fixtures: little-endian f32 [positions x vocab].
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "tensor/thread_pool.h"

namespace fm::cli {

int run_logits(const LogitsOptions& opt) {
  if (opt.tokens.empty()) throw std::invalid_argument("--tokens needs at least one id");
  if (opt.greedy < 0) throw std::invalid_argument("--greedy must be >= 0");
  const TensorType kv_type = parse_kv_type(opt.kv_type);
  auto file = GgufFile::open(opt.model);
  auto model = load_model(*file);
  const int64_t n_prompt = static_cast<int64_t>(opt.tokens.size());
  const int64_t n_ctx = n_prompt + opt.greedy;
  if (n_ctx > model->hparams().n_ctx_train)
    std::cerr << "fmserve: warning: " << n_ctx << " positions exceed the trained context of "
              << model->hparams().n_ctx_train << "\n";

  ThreadPool pool(default_threads(opt.threads));
  Session session(*model, n_ctx, 512, pool, kv_type);
  const int64_t n_vocab = session.n_vocab();
  std::vector<float> logits(static_cast<size_t>(n_prompt * n_vocab));
  session.eval_all(opt.tokens.data(), n_prompt, logits.data());

  if (!opt.output.empty()) {
    std::ofstream out(opt.output, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
    if (!out) throw std::runtime_error("cannot write '" + opt.output + "'");
  }
  if (opt.greedy > 0) {
    std::vector<int32_t> generated;
    const float* last = logits.data() + (n_prompt - 1) * n_vocab;
    for (int i = 0; i < opt.greedy; ++i) {
      const int32_t token = argmax(last, n_vocab);
      generated.push_back(token);
      if (i + 1 < opt.greedy) last = session.decode(token);
    }
    std::cout << "{\"tokens\":[";
    for (size_t i = 0; i < generated.size(); ++i) std::cout << (i ? "," : "") << generated[i];
    std::cout << "]}" << std::endl;
  }
  return 0;
}

}  // namespace fm::cli
