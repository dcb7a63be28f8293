#include "model/layer_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "model/kv_cache.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm {

void check_batch(const HParams& hp, const ForwardState& st, const Batch& batch) {
  const int64_t n = batch.n_tokens();
  if (n <= 0 || n > st.max_tokens) throw std::invalid_argument("batch of " + std::to_string(n) + " tokens does not fit");
  if (static_cast<int64_t>(batch.logit_rows.size()) > st.max_tokens) throw std::invalid_argument("too many logit rows");
  for (const SequenceSlice& s : batch.seqs) {
    if (s.pos0 != s.cache->n_used()) throw std::logic_error("batch built against a stale cache");
    if (s.cache->n_ctx() > st.n_ctx) throw std::invalid_argument("cache larger than the forward state's context");
    if (s.pos0 + s.n > s.cache->n_ctx())
      throw std::length_error("context of " + std::to_string(s.cache->n_ctx()) + " positions is full");
  }
  for (int32_t t : batch.tokens)
    if (t < 0 || t >= hp.n_vocab) throw std::out_of_range("token id " + std::to_string(t) + " is outside the vocabulary");
}

void commit_batch(const Batch& batch) {
  for (const SequenceSlice& s : batch.seqs) {
    s.cache->set_used(s.pos0 + s.n);
    if (s.grid_nx > 0) s.cache->add_pos_shift(1 - s.n);  // an M-RoPE image advances the position by one
  }
}

void embed_tokens(const Compute& c, const HParams& hp, const MatrixView& tok_embd, const int32_t* tokens, int64_t n,
                  float scale, ForwardState& st) {
  for (int64_t t = 0; t < n; ++t) dequantize_row(*c.kernels, tok_embd, tokens[t], st.x.data() + t * hp.n_embd);
  if (scale != 1.f) scale_inplace(st.x.data(), scale, n * hp.n_embd);
}

void embed_batch(const Compute& c, const HParams& hp, const MatrixView& tok_embd, const Batch& batch, float scale,
                 ForwardState& st) {
  const StageTimer timer(c.profile, Stage::kEmbed);
  embed_tokens(c, hp, tok_embd, batch.tokens.data(), batch.n_tokens(), scale, st);
  for (const SequenceSlice& s : batch.seqs)
    if (s.embd) std::memcpy(st.x.data() + s.begin * hp.n_embd, s.embd, sizeof(float) * static_cast<size_t>(s.n * hp.n_embd));
}

void attention_block(const Compute& c, const HParams& hp, const AttentionWeights& w, const AttentionOptions& opt,
                     ForwardState& st, const Batch& batch, int64_t layer) {
  const int64_t n = batch.n_tokens();
  const int64_t E = hp.n_embd, q_dim = hp.q_dim(), kv_dim = hp.kv_dim(), v_dim = hp.v_dim();
  float *x = st.x.data(), *h = st.h.data(), *q = st.q.data(), *k = st.k.data(), *v = st.v.data();
  {
    const StageTimer timer(c.profile, Stage::kNorm);
    rms_norm(x, w.norm, n, E, hp.rms_eps, h);
  }
  std::optional<StageTimer> timer(std::in_place, c.profile, Stage::kQkv);
  if (w.wqkv) {
    const int64_t width = q_dim + kv_dim + v_dim;
    matmul(c, *w.wqkv, h, n, st.qkv.data());
    for (int64_t t = 0; t < n; ++t) {
      const float* row = st.qkv.data() + t * width;
      std::memcpy(q + t * q_dim, row, sizeof(float) * q_dim);
      std::memcpy(k + t * kv_dim, row + q_dim, sizeof(float) * kv_dim);
      std::memcpy(v + t * v_dim, row + q_dim + kv_dim, sizeof(float) * v_dim);
    }
  } else {
    matmul_shared_input(c, {&w.wq, &w.wk, &w.wv}, {q, k, v}, h, n);
  }
  if (w.bq || w.bk || w.bv) timer.emplace(c.profile, Stage::kResidual);
  if (w.bq) add_bias(q, w.bq, n, q_dim);
  if (w.bk) add_bias(k, w.bk, n, kv_dim);
  if (w.bv) add_bias(v, w.bv, n, v_dim);
  if (w.q_norm || w.k_norm) timer.emplace(c.profile, Stage::kNorm);
  if (w.q_norm) rms_norm_rows(q, w.q_norm, n * hp.n_head, hp.head_dim, hp.rms_eps);
  if (w.k_norm) rms_norm_rows(k, w.k_norm, n * hp.n_head_kv, hp.head_dim, hp.rms_eps);
  AttentionShape shape{hp.n_head, hp.n_head_kv, hp.head_dim, hp.head_dim_v, opt.kq_scale, opt.window};
  for (const SequenceSlice& s : batch.seqs) {
    shape.causal = s.causal;
    float* qs = q + s.begin * q_dim;
    float* ks = k + s.begin * kv_dim;
    const int64_t p0 = s.pos0 + s.cache->pos_shift();
    timer.emplace(c.profile, Stage::kRope);
    if (s.grid_nx > 0) {
      opt.rope->apply_grid(qs, s.n, hp.n_head, p0, s.grid_nx);
      opt.rope->apply_grid(ks, s.n, hp.n_head_kv, p0, s.grid_nx);
    } else {
      opt.rope->apply(qs, s.n, hp.n_head, p0);
      opt.rope->apply(ks, s.n, hp.n_head_kv, p0);
    }
    if (opt.q_scale != 1.f) scale_inplace(qs, opt.q_scale, s.n * q_dim);
    timer.emplace(c.profile, Stage::kAttention);
    for (int64_t t = 0; t < s.n; ++t) s.cache->store(layer, s.pos0 + t, ks + t * kv_dim, v + (s.begin + t) * v_dim);
    attention(c, shape, qs, *s.cache, layer, s.pos0, s.n, st.scores.data(),
              st.att.data() + s.begin * hp.n_head * hp.head_dim_v);
  }
  timer.emplace(c.profile, Stage::kAttnOutput);
  matmul(c, w.wo, st.att.data(), n, h);
  if (w.post_norm) {
    timer.emplace(c.profile, Stage::kNorm);
    rms_norm(h, w.post_norm, n, E, hp.rms_eps, h);
  }
  timer.emplace(c.profile, Stage::kResidual);
  add_inplace(x, h, n * E);
}

namespace {

// SwiGLU over n rows of width F, rows split across the pool's threads.
void swiglu_rows(const Compute& c, const float* gate, const float* up, int64_t n, int64_t F, float* out) {
  c.pool->parallel_for(n, 1, [&](int64_t t0, int64_t t1) {
    c.kernels->swiglu(gate + t0 * F, up + t0 * F, (t1 - t0) * F, out + t0 * F);
  });
}

}  // namespace

void ffn_block(const Compute& c, const HParams& hp, const FfnWeights& w, FfnActivation act, ForwardState& st, int64_t n) {
  const int64_t E = hp.n_embd, F = hp.n_ff;
  float *x = st.x.data(), *h = st.h.data(), *a = st.ffn_a.data(), *b = st.ffn_b.data();
  std::optional<StageTimer> timer(std::in_place, c.profile, Stage::kNorm);
  rms_norm(x, w.norm, n, E, hp.rms_eps, h);
  if (w.gate_up) {
    timer.emplace(c.profile, Stage::kFfnGateUp);
    matmul(c, *w.gate_up, h, n, b);  // rows [gate | up] per token: [n, 2F]
    timer.emplace(c.profile, Stage::kFfnActivation);
    for (int64_t t = 0; t < n; ++t) {
      const float* row = b + t * 2 * F;
      if (act == FfnActivation::kSilu) c.kernels->swiglu(row, row + F, F, a + t * F);
      else geglu(row, row + F, F, a + t * F);
    }
  } else {
    timer.emplace(c.profile, Stage::kFfnGateUp);
    matmul_shared_input(c, {&w.gate, &w.up}, {a, b}, h, n);
    timer.emplace(c.profile, Stage::kFfnActivation);
    if (act == FfnActivation::kSilu) swiglu_rows(c, a, b, n, F, a);
    else geglu(a, b, n * F, a);
  }
  timer.emplace(c.profile, Stage::kFfnDown);
  matmul(c, w.down, a, n, h);
  if (w.post_norm) {
    timer.emplace(c.profile, Stage::kNorm);
    rms_norm(h, w.post_norm, n, E, hp.rms_eps, h);
  }
  timer.emplace(c.profile, Stage::kResidual);
  add_inplace(x, h, n * E);
}

void moe_block(const Compute& c, const HParams& hp, const MoeWeights& w, ForwardState& st, int64_t n) {
  const int64_t E = hp.n_embd, F = hp.n_ff_exp, n_expert = hp.n_expert, n_used = hp.n_expert_used;
  float *x = st.x.data(), *h = st.h.data();
  std::optional<StageTimer> timer(std::in_place, c.profile, Stage::kNorm);
  rms_norm(x, w.norm, n, E, hp.rms_eps, h);
  timer.emplace(c.profile, Stage::kMoeRouting);
  matmul(c, w.router, h, n, st.router.data());  // [n, n_expert]

  // Route: softmax over experts, keep the top n_used (lowest id first on ties), renormalise their weights.
  int32_t* chosen = st.expert_ids.data();   // [n, n_used]
  float* weights = st.expert_weights.data();  // [n, n_used]
  for (int64_t t = 0; t < n; ++t) {
    float* logits = st.router.data() + t * n_expert;
    const float max_logit = *std::max_element(logits, logits + n_expert);
    double total = 0;
    for (int64_t e = 0; e < n_expert; ++e) total += (logits[e] = std::exp(logits[e] - max_logit));
    for (int64_t e = 0; e < n_expert; ++e) logits[e] = static_cast<float>(logits[e] / total);
    for (int64_t k = 0; k < n_used; ++k) {
      int64_t best = -1;
      for (int64_t e = 0; e < n_expert; ++e) {
        bool taken = false;
        for (int64_t j = 0; j < k; ++j) taken |= chosen[t * n_used + j] == e;
        if (!taken && (best < 0 || logits[e] > logits[best])) best = e;
      }
      chosen[t * n_used + k] = static_cast<int32_t>(best);
      weights[t * n_used + k] = logits[best];
    }
    float sum = 0;
    for (int64_t k = 0; k < n_used; ++k) sum += weights[t * n_used + k];
    for (int64_t k = 0; k < n_used; ++k) weights[t * n_used + k] /= sum;
  }

  std::fill(st.moe_out.begin(), st.moe_out.begin() + n * E, 0.f);
  int32_t* members = st.expert_tokens.data();  // tokens routed to the current expert
  for (int64_t e = 0; e < n_expert; ++e) {
    int64_t m = 0;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t k = 0; k < n_used; ++k)
        if (chosen[t * n_used + k] == e) {
          members[m] = static_cast<int32_t>(t * n_used + k);
          std::memcpy(st.moe_in.data() + m * E, h + t * E, sizeof(float) * E);
          ++m;
        }
    if (m == 0) continue;
    timer.emplace(c.profile, Stage::kFfnGateUp);
    // Members are in token order, so the expert's decode rows lead as they do in the batch.
    Compute ce = c;
    ce.n_decode_rows = 0;
    while (ce.n_decode_rows < m && members[ce.n_decode_rows] / n_used < c.n_decode_rows) ++ce.n_decode_rows;
    float *a = st.ffn_a.data(), *b = st.ffn_b.data();
    matmul_shared_input(ce, {&w.gate[e], &w.up[e]}, {a, b}, st.moe_in.data(), m);
    timer.emplace(c.profile, Stage::kFfnActivation);
    swiglu_rows(ce, a, b, m, F, a);
    timer.emplace(c.profile, Stage::kFfnDown);
    matmul(ce, w.down[e], a, m, st.moe_in.data());
    timer.emplace(c.profile, Stage::kMoeRouting);
    for (int64_t i = 0; i < m; ++i) {
      const int64_t t = members[i] / n_used;
      const float wt = weights[members[i]];
      const float* y = st.moe_in.data() + i * E;
      float* out = st.moe_out.data() + t * E;
      for (int64_t d = 0; d < E; ++d) out[d] += wt * y[d];
    }
  }
  timer.emplace(c.profile, Stage::kResidual);
  add_inplace(x, st.moe_out.data(), n * E);
}

void output_logits(const Compute& c, const HParams& hp, const float* norm, const MatrixView& output, ForwardState& st,
                   const Batch& batch, float* logits) {
  const int64_t rows = static_cast<int64_t>(batch.logit_rows.size());
  if (rows == 0) return;
  const StageTimer timer(c.profile, Stage::kLogits);
  // Every logit row takes the decode kernels: a prompt usually needs one row, for which splitting the large output
  // matrix into AMX tiles costs more than streaming it (and the route stays independent of the batch).
  // Hidden states (embeddings) go straight to the output: [rows, n_embd].
  float* normed = batch.output_hidden ? logits : st.h.data();
  for (int64_t i = 0; i < rows; ++i)
    rms_norm(st.x.data() + batch.logit_rows[i] * hp.n_embd, norm, 1, hp.n_embd, hp.rms_eps, normed + i * hp.n_embd);
  if (batch.output_hidden) return;
  Compute rows_as_decode = c;
  rows_as_decode.n_decode_rows = rows;
  matmul(rows_as_decode, output, st.h.data(), rows, logits);
}

Compute batch_compute(const Compute& c, const Batch& batch) {
  Compute bc = c;
  bc.n_decode_rows = batch.n_decode;
  return bc;
}

}  // namespace fm
