// Reference attention kernels over K/V cache rows of f32 or f16 elements, and the FFN's SwiGLU.
#include <cmath>
#include <vector>

#include "tensor/fp16.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/kernels/scalar_kernels.h"

namespace fm::scalar {
namespace {

template <typename Elem>
float load_elem(const Elem* p, int64_t i) {
  if constexpr (sizeof(Elem) == 2) return fp16_to_fp32(p[i]);
  else return p[i];
}

template <typename Elem>
void key_scores(const float* q, int64_t n_q, int64_t dim, const void* keys, size_t stride, int64_t n_keys,
                float scale, float* scores, int64_t ld) {
  for (int64_t j = 0; j < n_keys; ++j) {
    const Elem* k = reinterpret_cast<const Elem*>(static_cast<const uint8_t*>(keys) + j * stride);
    for (int64_t i = 0; i < n_q; ++i) {
      float s = 0;
      for (int64_t d = 0; d < dim; ++d) s += load_elem(k, d) * q[i * dim + d];
      scores[i * ld + j] = s * scale;
    }
  }
}

template <typename Elem>
void value_sum(const float* w, int64_t n_q, int64_t ld, const void* values, size_t stride, int64_t n_keys, int64_t dim,
               float* out, int64_t out_stride) {
  for (int64_t j = 0; j < n_keys; ++j) {
    const Elem* v = reinterpret_cast<const Elem*>(static_cast<const uint8_t*>(values) + j * stride);
    for (int64_t i = 0; i < n_q; ++i) {
      const float wij = w[i * ld + j];
      for (int64_t d = 0; d < dim; ++d) out[i * out_stride + d] += wij * load_elem(v, d);
    }
  }
}

}  // namespace

void key_scores_f32(const float* q, int64_t n_q, int64_t dim, const void* keys, size_t stride, int64_t n_keys,
                    float scale, float* scores, int64_t ld) {
  key_scores<float>(q, n_q, dim, keys, stride, n_keys, scale, scores, ld);
}
void key_scores_f16(const float* q, int64_t n_q, int64_t dim, const void* keys, size_t stride, int64_t n_keys,
                    float scale, float* scores, int64_t ld) {
  key_scores<uint16_t>(q, n_q, dim, keys, stride, n_keys, scale, scores, ld);
}
void value_sum_f32(const float* w, int64_t n_q, int64_t ld, const void* values, size_t stride, int64_t n_keys,
                   int64_t dim, float* out, int64_t out_stride) {
  value_sum<float>(w, n_q, ld, values, stride, n_keys, dim, out, out_stride);
}
void value_sum_f16(const float* w, int64_t n_q, int64_t ld, const void* values, size_t stride, int64_t n_keys,
                   int64_t dim, float* out, int64_t out_stride) {
  value_sum<uint16_t>(w, n_q, ld, values, stride, n_keys, dim, out, out_stride);
}

void softmax(float* x, int64_t n, bool round_to_f16) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::fmax(max, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv_sum = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) {
    x[i] *= inv_sum;
    if (round_to_f16) x[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
  }
}

double exp_weights(const float* x, int64_t n, float shift, float scale, float* out) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float z = (x[i] - shift) * scale;
    out[i] = z >= -87.3f ? std::exp(std::fmin(z, 88.f)) : 0.f;  // NaN compares false: 0
    sum += out[i];
  }
  return sum;
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.f + std::exp(-g)) * up[i];
  }
}

void gelu(const float* x, int64_t n, float* out) {
  const uint16_t* table = gelu_fp16_table();
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    out[i] = v <= -10.f ? 0.f : v >= 10.f ? v : fp16_to_fp32(table[fp32_to_fp16(v)]);
  }
}

void f16_panel_gemm(const uint16_t* panel, int64_t n_cols, int n_rows, const float* x, int64_t ldx, int64_t n_tok,
                    float* y, int64_t ldy) {
  for (int64_t t = 0; t < n_tok; ++t)
    for (int r = 0; r < n_rows; ++r) {
      float acc = 0.f;
      for (int64_t k = 0; k < n_cols; ++k) acc = std::fma(x[t * ldx + k], fp16_to_fp32(panel[k * kPanelRows + r]), acc);
      y[t * ldy + r] = acc;
    }
}

}  // namespace fm::scalar

namespace fm {

const uint16_t* gelu_fp16_table() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(65536 + 1);
    for (uint32_t i = 0; i < 65536; ++i) {
      const float x = fp16_to_fp32(static_cast<uint16_t>(i));
      const float g = 0.5f * x * (1.0f + std::tanh(0.79788456080286535587989211986876f * x * (1.0f + 0.044715f * x * x)));
      t[i] = fp32_to_fp16(g);
    }
    return t;
  }();
  return table.data();
}

}  // namespace fm
