#include "vision/vit_layer.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "model/blocks.h"
#include "model/weights.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm {
namespace {

constexpr int64_t kQueryBlock = 64;  // queries of one head scored together against the same keys

void norm(const VitShape& shape, const float* w, const float* b, const float* x, int64_t n, float* out) {
  if (shape.norm == VitNorm::kLayerNorm) layer_norm(x, w, b, n, shape.n_embd, shape.eps, out);
  else rms_norm(x, w, n, shape.n_embd, shape.eps, out);
}

void grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// Non-causal attention within each window; q, k, v, out: [n, n_head * d].
void window_attention(const Compute& c, const VitShape& shape, const std::vector<std::pair<int64_t, int64_t>>& windows,
                      const float* q, const float* k, const float* v, float* out, VitScratch& s) {
  const int64_t E = shape.n_embd, d = E / shape.n_head;
  const float scale = 1.f / std::sqrt(static_cast<float>(d));
  int64_t longest = 0;
  struct Task {
    int64_t begin, end, head, q0;
  };
  std::vector<Task> tasks;
  for (const auto& [b, e] : windows) {
    longest = std::max(longest, e - b);
    for (int64_t h = 0; h < shape.n_head; ++h)
      for (int64_t q0 = b; q0 < e; q0 += kQueryBlock) tasks.push_back({b, e, h, q0});
  }
  const size_t per_thread = static_cast<size_t>(kQueryBlock * (longest + d) + 16);
  grow(s.scores, per_thread * static_cast<size_t>(c.pool->size()));
  const KernelTable& kt = *c.kernels;
  const size_t row_bytes = static_cast<size_t>(E) * sizeof(float);
  c.pool->parallel_for(static_cast<int64_t>(tasks.size()), 1, [&](int64_t t0, int64_t t1) {
    float* sc = s.scores.data() + ThreadPool::current_thread_index() * per_thread;  // [block][n_keys]
    float* qb = sc + kQueryBlock * longest;                                            // [block][d]
    for (int64_t ti = t0; ti < t1; ++ti) {
      const Task& t = tasks[static_cast<size_t>(ti)];
      const int64_t n_q = std::min(kQueryBlock, t.end - t.q0), n_keys = t.end - t.begin;
      for (int64_t i = 0; i < n_q; ++i) std::copy_n(q + (t.q0 + i) * E + t.head * d, d, qb + i * d);
      kt.key_scores_f32(qb, n_q, d, k + t.begin * E + t.head * d, row_bytes, n_keys, scale, sc, n_keys);
      for (int64_t i = 0; i < n_q; ++i) {
        kt.softmax(sc + i * n_keys, n_keys, false);
        std::fill_n(out + (t.q0 + i) * E + t.head * d, d, 0.f);
      }
      kt.value_sum_f32(sc, n_q, n_keys, v + t.begin * E + t.head * d, row_bytes, n_keys, d, out + t.q0 * E + t.head * d, E);
    }
  });
}

}  // namespace

void linear(const Compute& c, const MatrixView& w, const float* b, const float* x, int64_t n, float* y) {
  matmul(c, w, x, n, y);
  if (b) add_bias(y, b, n, w.n_rows);
}

VitLayerWeights bind_vit_layer(WeightBinder& b, int64_t layer, int64_t n_embd, int64_t n_ff, VitNorm norm, VitFfn ffn) {
  const std::string p = "v.blk." + std::to_string(layer) + ".";
  VitLayerWeights w;
  const bool biased_norm = norm == VitNorm::kLayerNorm;
  w.ln1_w = b.vector(p + "ln1.weight", n_embd);
  w.ln1_b = biased_norm ? b.vector(p + "ln1.bias", n_embd) : nullptr;
  w.ln2_w = b.vector(p + "ln2.weight", n_embd);
  w.ln2_b = biased_norm ? b.vector(p + "ln2.bias", n_embd) : nullptr;
  w.wq = b.matrix(p + "attn_q.weight", n_embd, n_embd);
  w.wk = b.matrix(p + "attn_k.weight", n_embd, n_embd);
  w.wv = b.matrix(p + "attn_v.weight", n_embd, n_embd);
  w.wo = b.matrix(p + "attn_out.weight", n_embd, n_embd);
  w.bq = b.vector(p + "attn_q.bias", n_embd);
  w.bk = b.vector(p + "attn_k.bias", n_embd);
  w.bv = b.vector(p + "attn_v.bias", n_embd);
  w.bo = b.vector(p + "attn_out.bias", n_embd);
  w.up = b.matrix(p + "ffn_up.weight", n_embd, n_ff);
  w.up_b = b.vector(p + "ffn_up.bias", n_ff);
  if (ffn == VitFfn::kSiluGated) {
    w.gate = b.matrix(p + "ffn_gate.weight", n_embd, n_ff);
    w.gate_b = b.vector(p + "ffn_gate.bias", n_ff);
  }
  w.down = b.matrix(p + "ffn_down.weight", n_ff, n_embd);
  w.down_b = b.vector(p + "ffn_down.bias", n_embd);
  return w;
}

void VisionRope::apply(float* v, int64_t n_tok, int64_t n_heads, int64_t head_dim) const {
  const int64_t half = head_dim / 2, quarter = head_dim / 4;
  // ggml multiplies theta by base^(-2 / n_dims) once per pair in float, with n_dims = head_dim / 2.
  const float theta_scale = std::pow(base, -2.0f / static_cast<float>(half));
  std::vector<float> cos_sin(static_cast<size_t>(head_dim));
  for (int64_t t = 0; t < n_tok; ++t) {
    float theta_y = static_cast<float>(y[static_cast<size_t>(t)]), theta_x = static_cast<float>(x[static_cast<size_t>(t)]);
    for (int64_t i = 0; i < half; ++i) {
      if (i == quarter) theta_x = static_cast<float>(x[static_cast<size_t>(t)]);
      const float theta = i < quarter ? theta_y : theta_x;
      cos_sin[2 * i] = std::cos(theta);
      cos_sin[2 * i + 1] = std::sin(theta);
      theta_y *= theta_scale;
      theta_x *= theta_scale;
    }
    for (int64_t h = 0; h < n_heads; ++h) {
      float* head = v + (t * n_heads + h) * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = head[i], x1 = head[i + half];
        head[i] = x0 * cos_sin[2 * i] - x1 * cos_sin[2 * i + 1];
        head[i + half] = x0 * cos_sin[2 * i + 1] + x1 * cos_sin[2 * i];
      }
    }
  }
}

void vit_layer(const Compute& c, const VitShape& shape, const VitLayerWeights& w, const VisionRope* rope,
               const std::vector<std::pair<int64_t, int64_t>>& windows, float* x, int64_t n, VitScratch& s) {
  const int64_t E = shape.n_embd, F = shape.n_ff;
  const size_t nE = static_cast<size_t>(n * E), nF = static_cast<size_t>(n * F);
  grow(s.h, nE);
  grow(s.q, nE);
  grow(s.k, nE);
  grow(s.v, nE);
  grow(s.att, nE);
  grow(s.ffn_a, nF);
  grow(s.ffn_b, nF);
  float *h = s.h.data(), *q = s.q.data(), *k = s.k.data(), *v = s.v.data();

  norm(shape, w.ln1_w, w.ln1_b, x, n, h);
  matmul_shared_input(c, {&w.wq, &w.wk, &w.wv}, {q, k, v}, h, n);
  add_bias(q, w.bq, n, E);
  add_bias(k, w.bk, n, E);
  add_bias(v, w.bv, n, E);
  if (rope) {
    rope->apply(q, n, shape.n_head, E / shape.n_head);
    rope->apply(k, n, shape.n_head, E / shape.n_head);
  }
  const std::vector<std::pair<int64_t, int64_t>> all = {{0, n}};
  window_attention(c, shape, windows.empty() ? all : windows, q, k, v, s.att.data(), s);
  linear(c, w.wo, w.bo, s.att.data(), n, h);
  add_inplace(x, h, static_cast<int64_t>(nE));

  norm(shape, w.ln2_w, w.ln2_b, x, n, h);
  float *a = s.ffn_a.data(), *g = s.ffn_b.data();
  if (shape.ffn == VitFfn::kSiluGated) {
    matmul_shared_input(c, {&w.up, &w.gate}, {a, g}, h, n);
    add_bias(a, w.up_b, n, F);
    add_bias(g, w.gate_b, n, F);
    c.pool->parallel_for(n, 16, [&](int64_t t0, int64_t t1) {
      c.kernels->swiglu(g + t0 * F, a + t0 * F, (t1 - t0) * F, g + t0 * F);
    });
    a = g;
  } else {
    linear(c, w.up, w.up_b, h, n, a);
    c.pool->parallel_for(n, 16, [&](int64_t t0, int64_t t1) { c.kernels->gelu(a + t0 * F, (t1 - t0) * F, a + t0 * F); });
  }
  linear(c, w.down, w.down_b, a, n, h);
  add_inplace(x, h, static_cast<int64_t>(nE));
}

}  // namespace fm
