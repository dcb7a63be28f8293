// AVX-512 attention kernels: the queries of one KV head share each converted key/value row. Widths that are not a
// multiple of 16 go to the scalar kernels.
#include <immintrin.h>

#include <cmath>

#include "tensor/kernels/kernel_table.h"
#include "tensor/kernels/scalar_kernels.h"
#include "tensor/kernels/vector_exp_avx512.h"

namespace fm {
namespace {

template <bool kF16>
inline __m512 load16(const uint8_t* row, int64_t d) {
  if constexpr (kF16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * d)));
  } else {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + d);
  }
}

template <bool kF16>
void key_scores(const float* q, int64_t n_q, int64_t dim, const void* keys, size_t stride, int64_t n_keys, float scale,
                float* scores, int64_t ld) {
  alignas(64) float k[1024];
  if (dim % 16 != 0 || dim > 1024) {
    (kF16 ? scalar::key_scores_f16 : scalar::key_scores_f32)(q, n_q, dim, keys, stride, n_keys, scale, scores, ld);
    return;
  }
  for (int64_t j = 0; j < n_keys; ++j) {
    const uint8_t* row = static_cast<const uint8_t*>(keys) + j * stride;
    for (int64_t d = 0; d < dim; d += 16) _mm512_store_ps(k + d, load16<kF16>(row, d));
    for (int64_t i = 0; i < n_q; ++i) {
      const float* qi = q + i * dim;
      __m512 a0 = _mm512_mul_ps(_mm512_load_ps(k), _mm512_loadu_ps(qi)), a1 = _mm512_setzero_ps();
      int64_t d = 16;
      for (; d + 32 <= dim; d += 32) {
        a1 = _mm512_fmadd_ps(_mm512_load_ps(k + d), _mm512_loadu_ps(qi + d), a1);
        a0 = _mm512_fmadd_ps(_mm512_load_ps(k + d + 16), _mm512_loadu_ps(qi + d + 16), a0);
      }
      if (d < dim) a1 = _mm512_fmadd_ps(_mm512_load_ps(k + d), _mm512_loadu_ps(qi + d), a1);
      scores[i * ld + j] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) * scale;
    }
  }
}

// NI queries x NC registers of 16 output columns, accumulated in registers over all keys.
template <bool kF16, int NI, int NC>
void value_tile(const float* w, int64_t ld, const uint8_t* values, size_t stride, int64_t n_keys, int64_t d0,
                float* out, int64_t out_stride) {
  __m512 acc[NI][NC];
  for (int i = 0; i < NI; ++i)
    for (int c = 0; c < NC; ++c) acc[i][c] = _mm512_loadu_ps(out + i * out_stride + d0 + 16 * c);
  for (int64_t j = 0; j < n_keys; ++j) {
    const uint8_t* row = values + j * stride;
    __m512 v[NC];
    for (int c = 0; c < NC; ++c) v[c] = load16<kF16>(row, d0 + 16 * c);
    for (int i = 0; i < NI; ++i) {
      const __m512 wij = _mm512_set1_ps(w[i * ld + j]);
      for (int c = 0; c < NC; ++c) acc[i][c] = _mm512_fmadd_ps(wij, v[c], acc[i][c]);
    }
  }
  for (int i = 0; i < NI; ++i)
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(out + i * out_stride + d0 + 16 * c, acc[i][c]);
}

template <bool kF16, int NI>
void value_rows(const float* w, int64_t ld, const uint8_t* values, size_t stride, int64_t n_keys, int64_t dim,
                float* out, int64_t out_stride) {
  int64_t d0 = 0;
  for (; d0 + 64 <= dim; d0 += 64) value_tile<kF16, NI, 4>(w, ld, values, stride, n_keys, d0, out, out_stride);
  for (; d0 < dim; d0 += 16) value_tile<kF16, NI, 1>(w, ld, values, stride, n_keys, d0, out, out_stride);
}

template <bool kF16>
void value_sum(const float* w, int64_t n_q, int64_t ld, const void* values, size_t stride, int64_t n_keys, int64_t dim,
               float* out, int64_t out_stride) {
  if (dim % 16 != 0) {
    (kF16 ? scalar::value_sum_f16 : scalar::value_sum_f32)(w, n_q, ld, values, stride, n_keys, dim, out, out_stride);
    return;
  }
  const uint8_t* v = static_cast<const uint8_t*>(values);
  int64_t i = 0;
  for (; i + 4 <= n_q; i += 4) value_rows<kF16, 4>(w + i * ld, ld, v, stride, n_keys, dim, out + i * out_stride, out_stride);
  for (; i + 2 <= n_q; i += 2) value_rows<kF16, 2>(w + i * ld, ld, v, stride, n_keys, dim, out + i * out_stride, out_stride);
  for (; i < n_q; ++i) value_rows<kF16, 1>(w + i * ld, ld, v, stride, n_keys, dim, out + i * out_stride, out_stride);
}

void softmax(float* x, int64_t n, bool round_to_f16) {
  const int64_t n16 = n & ~int64_t{15};
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - n16)) - 1);
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n16; i += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(x + i));
  if (tail) vmax = _mm512_mask_max_ps(vmax, tail, vmax, _mm512_maskz_loadu_ps(tail, x + n16));
  const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n16; i += 16) {
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), max));
    _mm512_storeu_ps(x + i, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (tail) {
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + n16), max));
    _mm512_mask_storeu_ps(x + n16, tail, e);
    sum = _mm512_mask_add_ps(sum, tail, sum, e);
  }
  const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / static_cast<double>(_mm512_reduce_add_ps(sum))));
  auto finish = [&](__m512 v) {
    v = _mm512_mul_ps(v, inv);
    if (round_to_f16) v = _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    return v;
  };
  for (int64_t i = 0; i < n16; i += 16) _mm512_storeu_ps(x + i, finish(_mm512_loadu_ps(x + i)));
  if (tail) _mm512_mask_storeu_ps(x + n16, tail, finish(_mm512_maskz_loadu_ps(tail, x + n16)));
}

}  // namespace

void set_attention_avx512(KernelTable& t) {
  t.key_scores_f32 = key_scores<false>;
  t.key_scores_f16 = key_scores<true>;
  t.value_sum_f32 = value_sum<false>;
  t.value_sum_f16 = value_sum<true>;
  t.softmax = softmax;
}

}  // namespace fm
