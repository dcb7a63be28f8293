#include "model/blocks.h"

#include <cmath>

#include "model/kv_cache.h"
#include "tensor/fp16.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm {

void rms_norm(const float* x, const float* w, int64_t n_tok, int64_t dim, float eps, float* out) {
  for (int64_t t = 0; t < n_tok; ++t) {
    const float* xt = x + t * dim;
    float* ot = out + t * dim;
    double sum_sq = 0;
    for (int64_t i = 0; i < dim; ++i) sum_sq += static_cast<double>(xt[i]) * xt[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(dim) + eps));
    for (int64_t i = 0; i < dim; ++i) ot[i] = xt[i] * scale * w[i];
  }
}

Rope::Rope(RopeLayout layout, int64_t n_rot, int64_t head_dim, float base)
    : layout_(layout), n_rot_(n_rot), head_dim_(head_dim), inv_freq_(static_cast<size_t>(n_rot / 2)) {
  for (int64_t i = 0; i < n_rot / 2; ++i)
    inv_freq_[i] = std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(n_rot));
}

void Rope::apply(float* x, int64_t n_tok, int64_t n_heads, int64_t pos0) const {
  const int64_t half = n_rot_ / 2;
  for (int64_t t = 0; t < n_tok; ++t) {
    const double pos = static_cast<double>(pos0 + t);
    for (int64_t i = 0; i < half; ++i) {
      const double theta = pos * inv_freq_[i];
      const float c = static_cast<float>(std::cos(theta)), s = static_cast<float>(std::sin(theta));
      // Pair (a, b) of dimension i: adjacent elements, or i and i + n_rot/2.
      const int64_t a = layout_ == RopeLayout::kAdjacentPairs ? 2 * i : i;
      const int64_t b = layout_ == RopeLayout::kAdjacentPairs ? 2 * i + 1 : i + half;
      for (int64_t h = 0; h < n_heads; ++h) {
        float* head = x + (t * n_heads + h) * head_dim_;
        const float x0 = head[a], x1 = head[b];
        head[a] = x0 * c - x1 * s;
        head[b] = x0 * s + x1 * c;
      }
    }
  }
}

void attention(const Compute& c, const AttentionShape& shape, const float* q, const KvCache& cache, int64_t layer,
               int64_t pos0, int64_t n_tok, float* scores, float* out) {
  const int64_t group = shape.n_head / shape.n_head_kv;
  const bool f16 = cache.type() == TensorType::F16;
  const size_t per_thread = attention_scratch_floats(shape, cache.n_ctx());
  // With an f16 cache, q and the softmax weights are rounded to f16 for the two products, as ggml-cpu does.
  const VecDotFn dot = c.kernels->vec_dot_fn(cache.type());
  c.pool->parallel_for(n_tok * shape.n_head, 1, [&](int64_t begin, int64_t end) {
    float* s = scores + ThreadPool::current_thread_index() * per_thread;  // [n_ctx] weights
    uint16_t* q16 = reinterpret_cast<uint16_t*>(s + cache.n_ctx());      // [head_dim]
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / shape.n_head, h = task % shape.n_head, kv_h = h / group;
      const int64_t n_keys = pos0 + t + 1;
      const float* qh = q + (t * shape.n_head + h) * shape.head_dim;
      const void* q_act = qh;
      if (f16) {
        for (int64_t d = 0; d < shape.head_dim; ++d) q16[d] = fp32_to_fp16(qh[d]);
        q_act = q16;
      }
      const size_t k_off = static_cast<size_t>(kv_h * shape.head_dim) * (f16 ? 2 : 4);
      float max_score = -INFINITY;
      for (int64_t j = 0; j < n_keys; ++j) {
        s[j] = dot(shape.head_dim, static_cast<const uint8_t*>(cache.k(layer, j)) + k_off, q_act) * shape.scale;
        max_score = std::fmax(max_score, s[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < n_keys; ++j) {
        s[j] = std::exp(s[j] - max_score);
        sum += s[j];
      }
      const float inv_sum = static_cast<float>(1.0 / sum);
      float* oh = out + (t * shape.n_head + h) * shape.head_dim_v;
      for (int64_t d = 0; d < shape.head_dim_v; ++d) oh[d] = 0;
      for (int64_t j = 0; j < n_keys; ++j) {
        if (f16) {
          const float w = fp16_to_fp32(fp32_to_fp16(s[j] * inv_sum));
          const uint16_t* vh = static_cast<const uint16_t*>(cache.v(layer, j)) + kv_h * shape.head_dim_v;
          for (int64_t d = 0; d < shape.head_dim_v; ++d) oh[d] += w * fp16_to_fp32(vh[d]);
        } else {
          const float w = s[j] * inv_sum;
          const float* vh = static_cast<const float*>(cache.v(layer, j)) + kv_h * shape.head_dim_v;
          for (int64_t d = 0; d < shape.head_dim_v; ++d) oh[d] += w * vh[d];
        }
      }
    }
  });
}

size_t attention_scratch_floats(const AttentionShape& shape, int64_t n_ctx) {
  return static_cast<size_t>(n_ctx + (shape.head_dim + 1) / 2 + 16);
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.f + std::exp(-g)) * up[i];
  }
}

void add_inplace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace fm
