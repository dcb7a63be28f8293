// `fmserve logits`: evaluate token ids as one prompt, optionally write every position's logits and continue
// greedily. The output layout matches the golden fixtures: little-endian f32 [positions x vocab].
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "runtime/session.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm::cli {

namespace {

// The hidden states after the final norm of every position, the whole input in one pass (as embeddings see them).
int write_hidden_states(const Model& model, const LogitsOptions& opt, ThreadPool& pool, TensorType kv_type) {
  const HParams& hp = model.hparams();
  const int64_t n = static_cast<int64_t>(opt.tokens.size());
  KvCache cache(hp.n_layer, n, hp.kv_dim(), hp.v_dim(), model.is_encoder() ? TensorType::F32 : kv_type, model.kv_layer_rows(n, n));
  ForwardState state(hp, n, n, pool.size());
  Compute c;
  c.pool = &pool;
  c.kernels = &best_kernels();
  c.scratch = &state.act;
  Batch batch;
  batch.add(cache, opt.tokens.data(), n, /*all_logits=*/true);
  batch.seqs.back().causal = !opt.non_causal;
  batch.output_hidden = true;
  std::vector<float> hidden(static_cast<size_t>(n * hp.n_embd));
  model.forward(c, state, batch, hidden.data());
  if (opt.output.empty()) throw std::invalid_argument("--embeddings needs -o FILE");
  std::ofstream out(opt.output, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(hidden.data()), static_cast<std::streamsize>(hidden.size() * sizeof(float)));
  if (!out) throw std::runtime_error("cannot write '" + opt.output + "'");
  return 0;
}

}  // namespace

void print_greedy(Session& session, const float* last, int n) {
  std::vector<int32_t> generated;
  for (int i = 0; i < n; ++i) {
    const int32_t token = argmax(last, session.n_vocab());
    generated.push_back(token);
    if (i + 1 < n) last = session.decode(token);
  }
  std::cout << "{\"tokens\":[";
  for (size_t i = 0; i < generated.size(); ++i) std::cout << (i ? "," : "") << generated[i];
  std::cout << "]}" << std::endl;
}

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
  if (opt.embeddings) return write_hidden_states(*model, opt, pool, kv_type);
  Session session(*model, n_ctx, 512, pool, kv_type);
  const int64_t n_vocab = session.n_vocab();
  std::vector<float> logits(static_cast<size_t>(n_prompt * n_vocab));
  session.eval_all(opt.tokens.data(), n_prompt, logits.data());

  if (!opt.output.empty()) {
    std::ofstream out(opt.output, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
    if (!out) throw std::runtime_error("cannot write '" + opt.output + "'");
  }
  if (opt.greedy > 0) print_greedy(session, logits.data() + (n_prompt - 1) * n_vocab, opt.greedy);
  return 0;
}

}  // namespace fm::cli
