#include "model/blocks.h"
#include "model/model.h"

namespace fm {

ForwardState::ForwardState(const HParams& hp, int64_t max_tokens_, int64_t n_ctx, int n_threads)
    : max_tokens(max_tokens_),
      x(static_cast<size_t>(max_tokens_ * hp.n_embd)),
      h(static_cast<size_t>(max_tokens_ * hp.n_embd)),
      q(static_cast<size_t>(max_tokens_ * hp.q_dim())),
      k(static_cast<size_t>(max_tokens_ * hp.kv_dim())),
      v(static_cast<size_t>(max_tokens_ * hp.v_dim())),
      att(static_cast<size_t>(max_tokens_ * hp.n_head * hp.head_dim_v)),
      ffn_a(static_cast<size_t>(max_tokens_ * hp.n_ff)),
      ffn_b(static_cast<size_t>(max_tokens_ * hp.n_ff)),
      scores(static_cast<size_t>(n_threads) *
             attention_scratch_floats({hp.n_head, hp.n_head_kv, hp.head_dim, hp.head_dim_v, 1.f}, n_ctx)) {}

}  // namespace fm
