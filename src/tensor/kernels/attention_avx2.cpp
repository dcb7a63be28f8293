// AVX2 (+FMA, F16C) attention kernels, the 8-lane counterparts of attention_avx512.cpp: the queries of one KV head
// share each converted key/value row. Widths that are not a multiple of 8 go to the scalar kernels.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "tensor/kernels/kernel_table.h"
#include "tensor/kernels/scalar_kernels.h"

namespace fm {
namespace {

template <bool kF16>
inline __m256 load8(const uint8_t* row, int64_t d) {
  if constexpr (kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * d)));
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + d);
  }
}

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

inline float hmax(__m256 v) {
  const __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_max_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_max_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// exp on 8 floats: x = n ln2 + f, exp(f) by its Taylor series to degree 7, times 2^n built in the exponent bits.
// Inputs are clamped to [-87.3, 88]: tiny results come out as ~1e-38 rather than denormals.
inline __m256 exp_avx2(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 f = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  f = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), f);
  __m256 p = _mm256_set1_ps(1.f / 5040);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f / 720));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f / 120));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f / 24));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f / 6));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

// Many queries (an encoder's block of queries): 8 keys at a time, transposed to [dim][8], so each query's 8 scores
// are one vector of FMAs over broadcast query elements (no horizontal sums). Two queries in flight, two partial sums
// each (even and odd dimensions).
template <bool kF16>
void key_scores_transposed(const float* q, int64_t n_q, int64_t dim, const uint8_t* keys, size_t stride, float scale,
                           float* scores, int64_t ld) {
  alignas(32) float row[1024];
  alignas(32) float kt[1024 * 8];
  for (int jj = 0; jj < 8; ++jj) {
    const uint8_t* r = keys + jj * stride;
    for (int64_t d = 0; d < dim; d += 8) _mm256_store_ps(row + d, load8<kF16>(r, d));
    for (int64_t d = 0; d < dim; ++d) kt[d * 8 + jj] = row[d];
  }
  const __m256 vs = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 2 <= n_q; i += 2) {
    const float *qa = q + i * dim, *qb = qa + dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    for (int64_t d = 0; d < dim; d += 2) {
      const __m256 k0 = _mm256_load_ps(kt + d * 8), k1 = _mm256_load_ps(kt + (d + 1) * 8);
      a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(qa + d), k0, a0);
      b0 = _mm256_fmadd_ps(_mm256_broadcast_ss(qb + d), k0, b0);
      a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(qa + d + 1), k1, a1);
      b1 = _mm256_fmadd_ps(_mm256_broadcast_ss(qb + d + 1), k1, b1);
    }
    _mm256_storeu_ps(scores + i * ld, _mm256_mul_ps(_mm256_add_ps(a0, a1), vs));
    _mm256_storeu_ps(scores + (i + 1) * ld, _mm256_mul_ps(_mm256_add_ps(b0, b1), vs));
  }
  for (; i < n_q; ++i) {
    const float* qa = q + i * dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int64_t d = 0; d < dim; d += 2) {
      a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(qa + d), _mm256_load_ps(kt + d * 8), a0);
      a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(qa + d + 1), _mm256_load_ps(kt + (d + 1) * 8), a1);
    }
    _mm256_storeu_ps(scores + i * ld, _mm256_mul_ps(_mm256_add_ps(a0, a1), vs));
  }
}

constexpr int64_t kTransposeMinQueries = 16;  // below this, transposing keys costs more than it saves

template <bool kF16>
void key_scores(const float* q, int64_t n_q, int64_t dim, const void* keys, size_t stride, int64_t n_keys, float scale,
                float* scores, int64_t ld) {
  alignas(32) float k[1024];
  if (dim % 8 != 0 || dim > 1024) {
    (kF16 ? scalar::key_scores_f16 : scalar::key_scores_f32)(q, n_q, dim, keys, stride, n_keys, scale, scores, ld);
    return;
  }
  int64_t j = 0;
  if (n_q >= kTransposeMinQueries)
    for (; j + 8 <= n_keys; j += 8)
      key_scores_transposed<kF16>(q, n_q, dim, static_cast<const uint8_t*>(keys) + j * stride, stride, scale, scores + j, ld);
  for (; j < n_keys; ++j) {
    const uint8_t* row = static_cast<const uint8_t*>(keys) + j * stride;
    for (int64_t d = 0; d < dim; d += 8) _mm256_store_ps(k + d, load8<kF16>(row, d));
    for (int64_t i = 0; i < n_q; ++i) {
      const float* qi = q + i * dim;
      __m256 a0 = _mm256_mul_ps(_mm256_load_ps(k), _mm256_loadu_ps(qi)), a1 = _mm256_setzero_ps();
      int64_t d = 8;
      for (; d + 16 <= dim; d += 16) {
        a1 = _mm256_fmadd_ps(_mm256_load_ps(k + d), _mm256_loadu_ps(qi + d), a1);
        a0 = _mm256_fmadd_ps(_mm256_load_ps(k + d + 8), _mm256_loadu_ps(qi + d + 8), a0);
      }
      if (d < dim) a1 = _mm256_fmadd_ps(_mm256_load_ps(k + d), _mm256_loadu_ps(qi + d), a1);
      scores[i * ld + j] = hsum(_mm256_add_ps(a0, a1)) * scale;
    }
  }
}

// NI queries x NC registers of 8 output columns, accumulated in registers over all keys.
template <bool kF16, int NI, int NC>
void value_tile(const float* w, int64_t ld, const uint8_t* values, size_t stride, int64_t n_keys, int64_t d0,
                float* out, int64_t out_stride) {
  __m256 acc[NI][NC];
  for (int i = 0; i < NI; ++i)
    for (int c = 0; c < NC; ++c) acc[i][c] = _mm256_loadu_ps(out + i * out_stride + d0 + 8 * c);
  for (int64_t j = 0; j < n_keys; ++j) {
    const uint8_t* row = values + j * stride;
    __m256 v[NC];
    for (int c = 0; c < NC; ++c) v[c] = load8<kF16>(row, d0 + 8 * c);
    for (int i = 0; i < NI; ++i) {
      const __m256 wij = _mm256_broadcast_ss(w + i * ld + j);
      for (int c = 0; c < NC; ++c) acc[i][c] = _mm256_fmadd_ps(wij, v[c], acc[i][c]);
    }
  }
  for (int i = 0; i < NI; ++i)
    for (int c = 0; c < NC; ++c) _mm256_storeu_ps(out + i * out_stride + d0 + 8 * c, acc[i][c]);
}

template <bool kF16, int NI>
void value_rows(const float* w, int64_t ld, const uint8_t* values, size_t stride, int64_t n_keys, int64_t dim,
                float* out, int64_t out_stride) {
  int64_t d0 = 0;
  for (; d0 + 16 <= dim; d0 += 16) value_tile<kF16, NI, 2>(w, ld, values, stride, n_keys, d0, out, out_stride);
  for (; d0 < dim; d0 += 8) value_tile<kF16, NI, 1>(w, ld, values, stride, n_keys, d0, out, out_stride);
}

template <bool kF16>
void value_sum(const float* w, int64_t n_q, int64_t ld, const void* values, size_t stride, int64_t n_keys, int64_t dim,
               float* out, int64_t out_stride) {
  if (dim % 8 != 0) {
    (kF16 ? scalar::value_sum_f16 : scalar::value_sum_f32)(w, n_q, ld, values, stride, n_keys, dim, out, out_stride);
    return;
  }
  // Keys in chunks that stay in cache while every query tile passes over them (each output still sums its keys in
  // order, so the chunking changes no result).
  constexpr int64_t kKeysPerChunk = 128;
  for (int64_t j0 = 0; j0 < n_keys; j0 += kKeysPerChunk) {
    const int64_t nk = std::min(kKeysPerChunk, n_keys - j0);
    const uint8_t* v = static_cast<const uint8_t*>(values) + j0 * stride;
    const float* wj = w + j0;
    int64_t i = 0;
    for (; i + 4 <= n_q; i += 4) value_rows<kF16, 4>(wj + i * ld, ld, v, stride, nk, dim, out + i * out_stride, out_stride);
    for (; i + 2 <= n_q; i += 2) value_rows<kF16, 2>(wj + i * ld, ld, v, stride, nk, dim, out + i * out_stride, out_stride);
    for (; i < n_q; ++i) value_rows<kF16, 1>(wj + i * ld, ld, v, stride, nk, dim, out + i * out_stride, out_stride);
  }
}

void softmax(float* x, int64_t n, bool round_to_f16) {
  const int64_t n8 = n & ~int64_t{7};
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n8; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  float max = hmax(vmax);
  for (int64_t i = n8; i < n; ++i) max = std::fmax(max, x[i]);
  const __m256 vm = _mm256_set1_ps(max);
  __m256 vsum = _mm256_setzero_ps();
  for (int64_t i = 0; i < n8; i += 8) {
    const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float sum = hsum(vsum);
  for (int64_t i = n8; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / static_cast<double>(sum));
  const __m256 vinv = _mm256_set1_ps(inv);
  for (int64_t i = 0; i < n8; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv);
    if (round_to_f16) v = _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    _mm256_storeu_ps(x + i, v);
  }
  for (int64_t i = n8; i < n; ++i) {
    float v = x[i] * inv;
    if (round_to_f16) v = _cvtsh_ss(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    x[i] = v;
  }
}

// The vector sum is flushed into a double every 4096 elements, so a vocabulary of weights near 1 sums accurately.
double exp_weights(const float* x, int64_t n, float shift, float scale, float* out) {
  const int64_t n8 = n & ~int64_t{7};
  const __m256 vshift = _mm256_set1_ps(shift), vscale = _mm256_set1_ps(scale), floor = _mm256_set1_ps(-87.3f);
  double sum = 0;
  for (int64_t b = 0; b < n8; b += 4096) {
    __m256 vsum = _mm256_setzero_ps();
    for (int64_t i = b; i < std::min(n8, b + 4096); i += 8) {
      const __m256 z = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vshift), vscale);
      const __m256 e = _mm256_and_ps(exp_avx2(z), _mm256_cmp_ps(z, floor, _CMP_GE_OQ));  // NaN, tiny: 0
      _mm256_storeu_ps(out + i, e);
      vsum = _mm256_add_ps(vsum, e);
    }
    sum += hsum(vsum);
  }
  for (int64_t i = n8; i < n; ++i) {
    const float z = (x[i] - shift) * scale;
    out[i] = z >= -87.3f ? std::exp(std::fmin(z, 88.f)) : 0.f;
    sum += out[i];
  }
  return sum;
}

}  // namespace

void set_exp_weights_avx2(KernelTable& t) { t.exp_weights = exp_weights; }

void set_attention_avx2(KernelTable& t) {
  t.key_scores_f32 = key_scores<false>;
  t.key_scores_f16 = key_scores<true>;
  t.value_sum_f32 = value_sum<false>;
  t.value_sum_f16 = value_sum<true>;
  t.softmax = softmax;
  t.exp_weights = exp_weights;
}

}  // namespace fm
