#include "runtime/continuation_scorer.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm {

double token_logprob(const float* logits, int64_t n_vocab, int32_t token) {
  double max_logit = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) max_logit = std::max(max_logit, static_cast<double>(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max_logit);
  return static_cast<double>(logits[token]) - max_logit - std::log(sum);
}

std::vector<double> score_continuations(const Model& model, const std::vector<int32_t>& prompt,
                                        const std::vector<std::vector<int32_t>>& continuations, ThreadPool& pool,
                                        TensorType kv_type) {
  const HParams& hp = model.hparams();
  if (prompt.empty()) throw std::invalid_argument("the prompt is empty");
  size_t longest = 0, fed = 0;
  for (const auto& c : continuations) {
    if (c.empty()) throw std::invalid_argument("a continuation is empty");
    longest = std::max(longest, c.size());
    fed += c.size() - 1;  // the last token is scored, never fed
  }
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  const int64_t n_ctx = n_prompt + static_cast<int64_t>(longest);
  if (n_ctx > hp.n_ctx_train) throw std::length_error("the prompt and its longest continuation exceed the model's context");
  constexpr int64_t kChunk = 512;
  const int64_t max_batch = std::max<int64_t>({kChunk, static_cast<int64_t>(fed), 1});
  ForwardState state(hp, max_batch, n_ctx, pool.size());
  Compute compute;
  compute.pool = &pool;
  compute.kernels = &best_kernels();
  compute.scratch = &state.act;
  auto new_cache = [&] {
    return std::make_unique<KvCache>(hp.n_layer, n_ctx, hp.kv_dim(), hp.v_dim(), kv_type, model.kv_layer_rows(n_ctx, max_batch));
  };

  // The prompt, once, in chunks; logits after its last token score every continuation's first token.
  auto prompt_cache = new_cache();
  std::vector<float> first(static_cast<size_t>(hp.n_vocab));
  Batch batch;
  for (int64_t done = 0; done < n_prompt;) {
    const int64_t chunk = std::min(n_prompt - done, kChunk);
    batch.clear();
    batch.add(*prompt_cache, prompt.data() + done, chunk, false, done + chunk == n_prompt);
    model.forward(compute, state, batch, first.data());
    done += chunk;
  }
  std::vector<double> out;
  for (const auto& c : continuations) out.push_back(token_logprob(first.data(), hp.n_vocab, c[0]));
  if (fed == 0) return out;

  // Every continuation but its last token, each on a copy of the prompt's cache, in one pass.
  std::vector<std::unique_ptr<KvCache>> caches;
  batch.clear();
  for (const auto& c : continuations) {
    caches.push_back(new_cache());
    caches.back()->copy_prefix(*prompt_cache, n_prompt);
    if (c.size() > 1) batch.add(*caches.back(), c.data(), static_cast<int64_t>(c.size()) - 1, /*all_logits=*/true);
  }
  std::vector<float> logits(fed * static_cast<size_t>(hp.n_vocab));
  model.forward(compute, state, batch, logits.data());
  size_t row = 0;
  for (size_t i = 0; i < continuations.size(); ++i) {
    const auto& c = continuations[i];
    for (size_t t = 1; t < c.size(); ++t, ++row) out[i] += token_logprob(logits.data() + row * hp.n_vocab, hp.n_vocab, c[t]);
  }
  return out;
}

}  // namespace fm
