#include "model/blocks.h"
#include "model/model.h"

#include <algorithm>

namespace fm {

ForwardState::ForwardState(const HParams& hp, int64_t max_tokens_, int64_t n_ctx, int n_threads)
    : max_tokens(max_tokens_),
      n_ctx(n_ctx),
      x(static_cast<size_t>(max_tokens_ * hp.n_embd)),
      h(static_cast<size_t>(max_tokens_ * hp.n_embd)),
      q(static_cast<size_t>(max_tokens_ * hp.q_dim())),
      k(static_cast<size_t>(max_tokens_ * hp.kv_dim())),
      v(static_cast<size_t>(max_tokens_ * hp.v_dim())),
      att(static_cast<size_t>(max_tokens_ * hp.n_head * hp.head_dim_v)),
      qkv(static_cast<size_t>(max_tokens_ * (hp.q_dim() + hp.kv_dim() + hp.v_dim()))),
      scores(static_cast<size_t>(n_threads) *
             attention_scratch_floats({hp.n_head, hp.n_head_kv, hp.head_dim, hp.head_dim_v, 1.f}, n_ctx)) {
  const int64_t routed = max_tokens_ * std::max<int64_t>(1, hp.n_expert_used);
  const int64_t ff = std::max(hp.n_ff, hp.n_expert > 0 ? hp.n_ff_exp : 0);
  ffn_a.resize(static_cast<size_t>(routed * ff));
  ffn_b.resize(static_cast<size_t>(routed * 2 * ff));
  if (hp.n_expert > 0) {
    router.resize(static_cast<size_t>(max_tokens_ * hp.n_expert));
    expert_ids.resize(static_cast<size_t>(routed));
    expert_weights.resize(static_cast<size_t>(routed));
    expert_tokens.resize(static_cast<size_t>(routed));
    moe_in.resize(static_cast<size_t>(routed * hp.n_embd));
    moe_out.resize(static_cast<size_t>(max_tokens_ * hp.n_embd));
  }
}

}  // namespace fm
