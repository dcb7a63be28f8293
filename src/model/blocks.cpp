#include "model/blocks.h"

#include <algorithm>
#include <array>
#include <stdexcept>
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

Rope::Rope(RopeLayout layout, int64_t n_rot, int64_t head_dim, float base, const RopeScaling& scaling,
           const float* freq_factors)
    : layout_(layout),
      n_rot_(n_rot),
      head_dim_(head_dim),
      inv_freq_(static_cast<size_t>(n_rot / 2)),
      extrapolate_(static_cast<size_t>(n_rot / 2), 0.0) {
  for (int64_t i = 0; i < n_rot / 2; ++i) {
    inv_freq_[i] = std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(n_rot));
    if (freq_factors) inv_freq_[i] /= freq_factors[i];
  }
  if (scaling.kind == RopeScaling::Kind::kNone) return;
  freq_scale_ = 1.0 / scaling.factor;
  if (scaling.kind != RopeScaling::Kind::kYarn) return;
  // YaRN: dimensions rotating fewer than beta_slow times over the original context are interpolated, those
  // rotating more than beta_fast times keep their frequency, with a linear ramp in between.
  auto corr_dim = [&](double n_rotations) {
    return static_cast<double>(n_rot) *
           std::log(static_cast<double>(scaling.original_context) / (n_rotations * 2 * M_PI)) / (2 * std::log(base));
  };
  const double low = std::max(0.0, std::floor(corr_dim(scaling.beta_fast)));
  const double high = std::min(static_cast<double>(n_rot - 1), std::ceil(corr_dim(scaling.beta_slow)));
  for (int64_t i = 0; i < n_rot / 2; ++i) {
    const double y = (static_cast<double>(i) - low) / std::max(0.001, high - low);
    extrapolate_[i] = 1.0 - std::min(1.0, std::max(0.0, y));
  }
  magnitude_ = 1.0 + 0.1 * std::log(1.0 / freq_scale_);
}

void Rope::apply(float* x, int64_t n_tok, int64_t n_heads, int64_t pos0) const {
  for (int64_t t = 0; t < n_tok; ++t) rotate(x + t * n_heads * head_dim_, n_heads, {pos0 + t, pos0 + t, pos0 + t, pos0 + t});
}

void Rope::apply_grid(float* x, int64_t n_tok, int64_t n_heads, int64_t pos0, int64_t grid_nx) const {
  if (pair_section_.empty()) throw std::logic_error("Rope: an image grid needs M-RoPE sections");
  for (int64_t t = 0; t < n_tok; ++t)
    rotate(x + t * n_heads * head_dim_, n_heads, {pos0, pos0 + t / grid_nx, pos0 + t % grid_nx, 0});
}

void Rope::set_sections(const std::vector<int64_t>& sections) {
  int64_t total = 0;
  for (int64_t s : sections) total += s;
  if (sections.size() != 4 || total <= 0 || total > n_rot_ / 2) throw std::invalid_argument("M-RoPE sections do not fit the rotated dimensions");
  pair_section_.assign(static_cast<size_t>(n_rot_ / 2), 0);
  for (int64_t i = 0; i < n_rot_ / 2; ++i) {
    int64_t sector = i % total, s = 0;
    while (sector >= sections[static_cast<size_t>(s)]) sector -= sections[static_cast<size_t>(s++)];
    pair_section_[static_cast<size_t>(i)] = static_cast<int>(s);
  }
}

void Rope::rotate(float* token, int64_t n_heads, const std::array<int64_t, 4>& pos) const {
  const int64_t half = n_rot_ / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double p = static_cast<double>(pos[pair_section_.empty() ? 0 : static_cast<size_t>(pair_section_[static_cast<size_t>(i)])]);
    const double theta_extrap = p * inv_freq_[i];
    const double theta_interp = theta_extrap * freq_scale_;
    const double theta = theta_interp * (1.0 - extrapolate_[i]) + theta_extrap * extrapolate_[i];
    const float c = static_cast<float>(std::cos(theta) * magnitude_);
    const float s = static_cast<float>(std::sin(theta) * magnitude_);
    // Pair (a, b) of dimension i: adjacent elements, or i and i + n_rot/2.
    const int64_t a = layout_ == RopeLayout::kAdjacentPairs ? 2 * i : i;
    const int64_t b = layout_ == RopeLayout::kAdjacentPairs ? 2 * i + 1 : i + half;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* head = token + h * head_dim_;
      const float x0 = head[a], x1 = head[b];
      head[a] = x0 * c - x1 * s;
      head[b] = x0 * s + x1 * c;
    }
  }
}

void attention(const Compute& c, const AttentionShape& shape, const float* q, const KvCache& cache, int64_t layer,
               int64_t pos0, int64_t n_tok, float* scores, float* out) {
  const int64_t group = shape.n_head / shape.n_head_kv, n_ctx = cache.n_ctx();
  const bool f16 = cache.type() == TensorType::F16;
  const size_t elem = f16 ? 2 : 4;
  const size_t per_thread = attention_scratch_floats(shape, n_ctx);
  const KernelTable& k = *c.kernels;
  const KeyScoresFn key_scores = f16 ? k.key_scores_f16 : k.key_scores_f32;
  const ValueSumFn value_sum = f16 ? k.value_sum_f16 : k.value_sum_f32;
  // One task per (token, KV head): the group's query heads share every key and value row read.
  c.pool->parallel_for(n_tok * shape.n_head_kv, 1, [&](int64_t begin, int64_t end) {
    float* s = scores + ThreadPool::current_thread_index() * per_thread;  // [group][n_ctx] weights
    float* qr = s + group * n_ctx;                                        // [group][head_dim] queries
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / shape.n_head_kv, kv_h = task % shape.n_head_kv;
      const int64_t last = shape.causal ? pos0 + t : pos0 + n_tok - 1;
      const int64_t first = shape.window > 0 ? std::max<int64_t>(0, last - shape.window + 1) : 0;
      const int64_t n_keys = last - first + 1;
      const float* q_group = q + (t * shape.n_head + kv_h * group) * shape.head_dim;
      // With an f16 cache, q and the softmax weights are rounded to f16 for the two products, as ggml-cpu does.
      for (int64_t d = 0; d < group * shape.head_dim; ++d)
        qr[d] = f16 ? fp16_to_fp32(fp32_to_fp16(q_group[d])) : q_group[d];
      for (int64_t j = 0; j < n_keys;) {
        const int64_t len = std::min(n_keys - j, cache.rows_until_wrap(layer, first + j));
        key_scores(qr, group, shape.head_dim,
                   static_cast<const uint8_t*>(cache.k(layer, first + j)) + kv_h * shape.head_dim * elem,
                   cache.k_row_bytes(), len, shape.scale, s + j, n_ctx);
        j += len;
      }
      for (int64_t i = 0; i < group; ++i) k.softmax(s + i * n_ctx, n_keys, f16);
      float* o = out + (t * shape.n_head + kv_h * group) * shape.head_dim_v;
      std::fill(o, o + group * shape.head_dim_v, 0.f);
      for (int64_t j = 0; j < n_keys;) {
        const int64_t len = std::min(n_keys - j, cache.rows_until_wrap(layer, first + j));
        value_sum(s + j, group, n_ctx, static_cast<const uint8_t*>(cache.v(layer, first + j)) + kv_h * shape.head_dim_v * elem,
                  cache.v_row_bytes(), len, shape.head_dim_v, o, shape.head_dim_v);
        j += len;
      }
    }
  });
}

size_t attention_scratch_floats(const AttentionShape& shape, int64_t n_ctx) {
  const int64_t group = shape.n_head / shape.n_head_kv;
  return static_cast<size_t>(group * (n_ctx + shape.head_dim) + 16);
}

namespace {
float gelu_from_table(const uint16_t* table, float x) {
  if (x <= -10.f) return 0.f;
  if (x >= 10.f) return x;
  return fp16_to_fp32(table[fp32_to_fp16(x)]);
}
}  // namespace

void geglu(const float* gate, const float* up, int64_t n, float* out) {
  const uint16_t* table = gelu_fp16_table();
  for (int64_t i = 0; i < n; ++i) out[i] = gelu_from_table(table, gate[i]) * up[i];
}

void layer_norm(const float* x, const float* w, const float* b, int64_t n_tok, int64_t dim, float eps, float* out) {
  for (int64_t t = 0; t < n_tok; ++t) {
    const float* xr = x + t * dim;
    float* o = out + t * dim;
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i) sum += xr[i];
    const float mean = static_cast<float>(sum / static_cast<double>(dim));
    double sum2 = 0;
    for (int64_t i = 0; i < dim; ++i) {
      const float v = xr[i] - mean;
      o[i] = v;
      sum2 += static_cast<double>(v * v);
    }
    const float variance = static_cast<float>(sum2 / static_cast<double>(dim));
    const float scale = 1.0f / std::sqrt(variance + eps);
    for (int64_t i = 0; i < dim; ++i) o[i] = o[i] * scale * w[i] + (b ? b[i] : 0.f);
  }
}

void rms_norm_rows(float* x, const float* w, int64_t n_rows, int64_t dim, float eps) {
  rms_norm(x, w, n_rows, dim, eps, x);
}

void add_bias(float* x, const float* b, int64_t n_tok, int64_t dim) {
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t i = 0; i < dim; ++i) x[t * dim + i] += b[i];
}

void scale_inplace(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void add_inplace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace fm
