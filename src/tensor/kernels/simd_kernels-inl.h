// SIMD dot-product kernels, compiled once per x86 target: simd_avx2.cpp (AVX2+FMA+F16C) and
// simd_avx512.cpp (adds AVX-512 F/BW/VL/VNNI: 512-bit float lanes and vpdpbusd for integer dots).
// FM_SIMD_NS names the target's namespace; FM_SIMD_AVX512 selects the wider code paths.
// Each kernel computes exactly what its scalar reference in scalar_*.cpp computes, up to float summation order.
#include <immintrin.h>

#include <cstring>

#include "tensor/fp16.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/kernels/quant_unpack-inl.h"
#include "tensor/quant_blocks.h"

namespace fm {
void fill_missing_from_scalar(KernelTable& t);

namespace FM_SIMD_NS {
namespace {

inline int hsum_epi32_256(__m256i v) {
  __m128i lo = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, _MM_SHUFFLE(1, 0, 3, 2)));
  lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(lo);
}

// ---- float lanes ---------------------------------------------------------------------------------------------
#ifdef FM_SIMD_AVX512
using VecF = __m512;
constexpr int kLanes = 16;
inline VecF zero_f() { return _mm512_setzero_ps(); }
inline VecF load_f32(const float* p) { return _mm512_loadu_ps(p); }
inline VecF load_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline VecF load_bf16(const uint16_t* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}
inline VecF fmadd(VecF a, VecF b, VecF c) { return _mm512_fmadd_ps(a, b, c); }
inline VecF add_f(VecF a, VecF b) { return _mm512_add_ps(a, b); }
inline float hsum_f(VecF v) { return _mm512_reduce_add_ps(v); }
#else
using VecF = __m256;
constexpr int kLanes = 8;
inline VecF zero_f() { return _mm256_setzero_ps(); }
inline VecF load_f32(const float* p) { return _mm256_loadu_ps(p); }
inline VecF load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline VecF load_bf16(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}
inline VecF fmadd(VecF a, VecF b, VecF c) { return _mm256_fmadd_ps(a, b, c); }
inline VecF add_f(VecF a, VecF b) { return _mm256_add_ps(a, b); }
inline float hsum_f(VecF v) { return hsum_ps256(v); }
#endif

// Four independent accumulators hide the FMA latency; the tail is summed in order.
template <typename Load, typename Scalar>
float float_dot(int64_t n, Load load, Scalar scalar_at) {
  VecF acc0 = zero_f(), acc1 = zero_f(), acc2 = zero_f(), acc3 = zero_f();
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    acc0 = load(i, acc0);
    acc1 = load(i + kLanes, acc1);
    acc2 = load(i + 2 * kLanes, acc2);
    acc3 = load(i + 3 * kLanes, acc3);
  }
  for (; i + kLanes <= n; i += kLanes) acc0 = load(i, acc0);
  float sum = hsum_f(add_f(add_f(acc0, acc1), add_f(acc2, acc3)));
  for (; i < n; ++i) sum += scalar_at(i);
  return sum;
}

float vec_dot_f32(int64_t n, const void* w, const void* a) {
  const float* x = static_cast<const float*>(w);
  const float* y = static_cast<const float*>(a);
  return float_dot(
      n, [&](int64_t i, VecF acc) { return fmadd(load_f32(x + i), load_f32(y + i), acc); },
      [&](int64_t i) { return x[i] * y[i]; });
}

float vec_dot_f16(int64_t n, const void* w, const void* a) {
  const uint16_t* x = static_cast<const uint16_t*>(w);
  const uint16_t* y = static_cast<const uint16_t*>(a);
  return float_dot(
      n, [&](int64_t i, VecF acc) { return fmadd(load_f16(x + i), load_f16(y + i), acc); },
      [&](int64_t i) { return fp16_to_fp32(x[i]) * fp16_to_fp32(y[i]); });
}

float vec_dot_bf16(int64_t n, const void* w, const void* a) {
  const uint16_t* x = static_cast<const uint16_t*>(w);
  const uint16_t* y = static_cast<const uint16_t*>(a);
  return float_dot(
      n, [&](int64_t i, VecF acc) { return fmadd(load_bf16(x + i), load_bf16(y + i), acc); },
      [&](int64_t i) { return bf16_to_fp32(x[i]) * bf16_to_fp32(y[i]); });
}

// ---- integer dots --------------------------------------------------------------------------------------------
// Unsigned bytes (at most 128) times signed bytes, summed in groups of four into 8 int32 lanes.
inline __m256i dot_u8_i8(__m256i u, __m256i s) {
#ifdef FM_SIMD_AVX512
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

// Signed times signed via |x| * sign(y, x).
inline __m256i dot_i8_i8(__m256i x, __m256i y) { return dot_u8_i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x)); }

// dot_u8_i8 with elements 0..15 weighted by scale_lo and 16..31 by scale_hi (u at most 63).
inline __m256i scaled_dot_u8_i8(__m256i u, __m256i s, int scale_lo, int scale_hi) {
#ifdef FM_SIMD_AVX512
  const __m256i scales = _mm256_set_m128i(_mm_set1_epi32(scale_hi), _mm_set1_epi32(scale_lo));
  return _mm256_mullo_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s), scales);
#else
  const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(scale_hi)),
                                          _mm_set1_epi16(static_cast<int16_t>(scale_lo)));
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scales);
#endif
}

inline __m256 scale_i32(__m256i v, float scale, __m256 acc) {
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(scale), acc);
}

float vec_dot_q4_0(int64_t n, const void* w, const void* a) {
  const BlockQ4_0* x = static_cast<const BlockQ4_0*>(w);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const __m256i q = _mm256_sub_epi8(unpack_nibbles16(x[blk].qs), _mm256_set1_epi8(8));
    acc = scale_i32(dot_i8_i8(q, load_256(y[blk].qs)), fp16_to_fp32(x[blk].d) * fp16_to_fp32(y[blk].d), acc);
  }
  return hsum_ps256(acc);
}

float vec_dot_q4_1(int64_t n, const void* w, const void* a) {
  const BlockQ4_1* x = static_cast<const BlockQ4_1*>(w);
  const BlockQ8_1* y = static_cast<const BlockQ8_1*>(a);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    acc = scale_i32(dot_u8_i8(unpack_nibbles16(x[blk].qs), load_256(y[blk].qs)),
                    fp16_to_fp32(x[blk].d) * fp16_to_fp32(y[blk].d), acc);
    mins += fp16_to_fp32(x[blk].m) * fp16_to_fp32(y[blk].s);
  }
  return hsum_ps256(acc) + mins;
}

float vec_dot_q5_0(int64_t n, const void* w, const void* a) {
  const BlockQ5_0* x = static_cast<const BlockQ5_0*>(w);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const __m256i hi = _mm256_and_si256(bits_to_bytes(x[blk].qh), _mm256_set1_epi8(0x10));
    const __m256i q = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles16(x[blk].qs), hi), _mm256_set1_epi8(16));
    acc = scale_i32(dot_i8_i8(q, load_256(y[blk].qs)), fp16_to_fp32(x[blk].d) * fp16_to_fp32(y[blk].d), acc);
  }
  return hsum_ps256(acc);
}

float vec_dot_q5_1(int64_t n, const void* w, const void* a) {
  const BlockQ5_1* x = static_cast<const BlockQ5_1*>(w);
  const BlockQ8_1* y = static_cast<const BlockQ8_1*>(a);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const __m256i hi = _mm256_and_si256(bits_to_bytes(x[blk].qh), _mm256_set1_epi8(0x10));
    const __m256i q = _mm256_or_si256(unpack_nibbles16(x[blk].qs), hi);
    acc = scale_i32(dot_u8_i8(q, load_256(y[blk].qs)), fp16_to_fp32(x[blk].d) * fp16_to_fp32(y[blk].d), acc);
    mins += fp16_to_fp32(x[blk].m) * fp16_to_fp32(y[blk].s);
  }
  return hsum_ps256(acc) + mins;
}

float vec_dot_q8_0(int64_t n, const void* w, const void* a) {
  const BlockQ8_0* x = static_cast<const BlockQ8_0*>(w);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t blk = 0; blk < n / kQK; ++blk)
    acc = scale_i32(dot_i8_i8(load_256(x[blk].qs), load_256(y[blk].qs)),
                    fp16_to_fp32(x[blk].d) * fp16_to_fp32(y[blk].d), acc);
  return hsum_ps256(acc);
}

// Sum over sub-blocks of min * (sum of the sub-block's activations), from Q8_K's 16-element sums.
inline int kquant_mins_dot(const uint8_t* mins, const int16_t* bsums) {
  int summ = 0;
  for (int j = 0; j < 8; ++j) summ += mins[j] * (bsums[2 * j] + bsums[2 * j + 1]);
  return summ;
}

float vec_dot_q4_k(int64_t n, const void* w, const void* a) {
  const BlockQ4_K* x = static_cast<const BlockQ4_K*>(w);
  const BlockQ8_K* y = static_cast<const BlockQ8_K*>(a);
  const __m256i low_mask = _mm256_set1_epi8(0xF);
  __m256 acc = _mm256_setzero_ps();
  float mins_total = 0;
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; ++j) kquant_scale_min(j, x[blk].scales, &sc[j], &mn[j]);
    __m256i sumi = _mm256_setzero_si256();
    for (int chunk = 0; chunk < 4; ++chunk) {
      const __m256i q = load_256(x[blk].qs + 32 * chunk);
      const __m256i lo = _mm256_and_si256(q, low_mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
      const int8_t* yq = y[blk].qs + 64 * chunk;
      sumi = _mm256_add_epi32(sumi, scaled_dot_u8_i8(lo, load_256(yq), sc[2 * chunk], sc[2 * chunk]));
      sumi = _mm256_add_epi32(sumi, scaled_dot_u8_i8(hi, load_256(yq + 32), sc[2 * chunk + 1], sc[2 * chunk + 1]));
    }
    acc = scale_i32(sumi, y[blk].d * fp16_to_fp32(x[blk].d), acc);
    mins_total += y[blk].d * fp16_to_fp32(x[blk].dmin) * static_cast<float>(kquant_mins_dot(mn, y[blk].bsums));
  }
  return hsum_ps256(acc) - mins_total;
}

// Q5_K: chunk c (64 elements) as two registers of 5-bit values: sub-block 2c (low nibbles + bit 2c of qh) and
// 2c+1 (high nibbles + bit 2c+1).
inline void unpack_q5_k_chunk(const uint8_t* qs, __m256i qh, int chunk, __m256i* lo, __m256i* hi) {
  const __m256i low_mask = _mm256_set1_epi8(0xF), bit4 = _mm256_set1_epi8(0x10);
  const __m256i m0 = _mm256_set1_epi8(static_cast<char>(1 << (2 * chunk)));
  const __m256i m1 = _mm256_set1_epi8(static_cast<char>(2 << (2 * chunk)));
  const __m256i h0 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, m0), m0), bit4);
  const __m256i h1 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, m1), m1), bit4);
  const __m256i q = load_256(qs + 32 * chunk);
  *lo = _mm256_or_si256(_mm256_and_si256(q, low_mask), h0);
  *hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask), h1);
}

float vec_dot_q5_k(int64_t n, const void* w, const void* a) {
  const BlockQ5_K* x = static_cast<const BlockQ5_K*>(w);
  const BlockQ8_K* y = static_cast<const BlockQ8_K*>(a);
  __m256 acc = _mm256_setzero_ps();
  float mins_total = 0;
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; ++j) kquant_scale_min(j, x[blk].scales, &sc[j], &mn[j]);
    const __m256i qh = load_256(x[blk].qh);
    __m256i sumi = _mm256_setzero_si256();
    for (int chunk = 0; chunk < 4; ++chunk) {
      __m256i lo, hi;
      unpack_q5_k_chunk(x[blk].qs, qh, chunk, &lo, &hi);
      const int8_t* yq = y[blk].qs + 64 * chunk;
      sumi = _mm256_add_epi32(sumi, scaled_dot_u8_i8(lo, load_256(yq), sc[2 * chunk], sc[2 * chunk]));
      sumi = _mm256_add_epi32(sumi, scaled_dot_u8_i8(hi, load_256(yq + 32), sc[2 * chunk + 1], sc[2 * chunk + 1]));
    }
    acc = scale_i32(sumi, y[blk].d * fp16_to_fp32(x[blk].d), acc);
    mins_total += y[blk].d * fp16_to_fp32(x[blk].dmin) * static_cast<float>(kquant_mins_dot(mn, y[blk].bsums));
  }
  return hsum_ps256(acc) - mins_total;
}

float vec_dot_q6_k(int64_t n, const void* w, const void* a) {
  const BlockQ6_K* x = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* y = static_cast<const BlockQ8_K*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const int8_t* sc = x[blk].scales;
    __m256i sumi = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      // Unsigned 6-bit values; the -32 offset is applied below through the activation sums.
      __m256i q[4];
      unpack_q6_k_half(x[blk].ql + 64 * half, x[blk].qh + 32 * half, q);
      for (int k = 0; k < 4; ++k) {
        const int8_t* yq = y[blk].qs + 128 * half + 32 * k;
        const int s = 8 * half + 2 * k;
        sumi = _mm256_add_epi32(sumi, scaled_dot_u8_i8(q[k], load_256(yq), sc[s], sc[s + 1]));
      }
    }
    int offset = 0;
    for (int j = 0; j < 16; ++j) offset += sc[j] * y[blk].bsums[j];
    const __m256i total = _mm256_sub_epi32(sumi, _mm256_setr_epi32(32 * offset, 0, 0, 0, 0, 0, 0, 0));
    acc = scale_i32(total, y[blk].d * fp16_to_fp32(x[blk].d), acc);
  }
  return hsum_ps256(acc);
}

// ---- dequantization -----------------------------------------------------------------------------------------
// 32 int8 values times a scale, written as f32.
inline void store_scaled_i8(__m256i q, float d, float* dst) {
  const __m256 scale = _mm256_set1_ps(d);
  const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), scale));
  _mm256_storeu_ps(dst + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), scale));
  _mm256_storeu_ps(dst + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), scale));
  _mm256_storeu_ps(dst + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), scale));
}

// 32 values d * q + m for unsigned q.
inline void store_affine_u8(__m256i q, float d, float m, float* dst) {
  const __m256 scale = _mm256_set1_ps(d), bias = _mm256_set1_ps(m);
  const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
  for (int k = 0; k < 4; ++k)
    _mm256_storeu_ps(dst + 8 * k, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[k])), scale, bias));
}

void dequantize_f16(const void* src, float* dst, int64_t n) {
  const uint16_t* s = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  for (; i < n; ++i) dst[i] = fp16_to_fp32(s[i]);
}

// f32 -> f16 with round-to-nearest-even (F16C), as ggml converts activations for its F16 dot products.
void quantize_f16(const float* src, void* dst, int64_t n) {
  uint16_t* d = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
  const uint16_t* s = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(
                                  _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))), 16)));
  for (; i < n; ++i) dst[i] = bf16_to_fp32(s[i]);
}

void dequantize_q4_0(const void* src, float* dst, int64_t n) {
  const BlockQ4_0* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t blk = 0; blk < n / kQK; ++blk)
    store_scaled_i8(_mm256_sub_epi8(unpack_nibbles16(b[blk].qs), _mm256_set1_epi8(8)), fp16_to_fp32(b[blk].d), dst + blk * kQK);
}

void dequantize_q4_1(const void* src, float* dst, int64_t n) {
  const BlockQ4_1* b = static_cast<const BlockQ4_1*>(src);
  for (int64_t blk = 0; blk < n / kQK; ++blk)
    store_affine_u8(unpack_nibbles16(b[blk].qs), fp16_to_fp32(b[blk].d), fp16_to_fp32(b[blk].m), dst + blk * kQK);
}

void dequantize_q5_0(const void* src, float* dst, int64_t n) {
  const BlockQ5_0* b = static_cast<const BlockQ5_0*>(src);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const __m256i hi = _mm256_and_si256(bits_to_bytes(b[blk].qh), _mm256_set1_epi8(0x10));
    const __m256i q = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles16(b[blk].qs), hi), _mm256_set1_epi8(16));
    store_scaled_i8(q, fp16_to_fp32(b[blk].d), dst + blk * kQK);
  }
}

void dequantize_q5_1(const void* src, float* dst, int64_t n) {
  const BlockQ5_1* b = static_cast<const BlockQ5_1*>(src);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const __m256i hi = _mm256_and_si256(bits_to_bytes(b[blk].qh), _mm256_set1_epi8(0x10));
    store_affine_u8(_mm256_or_si256(unpack_nibbles16(b[blk].qs), hi), fp16_to_fp32(b[blk].d), fp16_to_fp32(b[blk].m),
                    dst + blk * kQK);
  }
}

void dequantize_q8_0(const void* src, float* dst, int64_t n) {
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t blk = 0; blk < n / kQK; ++blk) store_scaled_i8(load_256(b[blk].qs), fp16_to_fp32(b[blk].d), dst + blk * kQK);
}

void dequantize_q4_k(const void* src, float* dst, int64_t n) {
  const BlockQ4_K* b = static_cast<const BlockQ4_K*>(src);
  const __m256i low_mask = _mm256_set1_epi8(0xF);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const float d = fp16_to_fp32(b[blk].d), dmin = fp16_to_fp32(b[blk].dmin);
    for (int chunk = 0; chunk < 4; ++chunk) {
      uint8_t sc0, m0, sc1, m1;
      kquant_scale_min(2 * chunk, b[blk].scales, &sc0, &m0);
      kquant_scale_min(2 * chunk + 1, b[blk].scales, &sc1, &m1);
      const __m256i q = load_256(b[blk].qs + 32 * chunk);
      float* y = dst + blk * kQK_K + 64 * chunk;
      store_affine_u8(_mm256_and_si256(q, low_mask), d * sc0, -dmin * m0, y);
      store_affine_u8(_mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask), d * sc1, -dmin * m1, y + 32);
    }
  }
}

void dequantize_q5_k(const void* src, float* dst, int64_t n) {
  const BlockQ5_K* b = static_cast<const BlockQ5_K*>(src);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const float d = fp16_to_fp32(b[blk].d), dmin = fp16_to_fp32(b[blk].dmin);
    const __m256i qh = load_256(b[blk].qh);
    for (int chunk = 0; chunk < 4; ++chunk) {
      uint8_t sc0, m0, sc1, m1;
      kquant_scale_min(2 * chunk, b[blk].scales, &sc0, &m0);
      kquant_scale_min(2 * chunk + 1, b[blk].scales, &sc1, &m1);
      __m256i lo, hi;
      unpack_q5_k_chunk(b[blk].qs, qh, chunk, &lo, &hi);
      float* y = dst + blk * kQK_K + 64 * chunk;
      store_affine_u8(lo, d * sc0, -dmin * m0, y);
      store_affine_u8(hi, d * sc1, -dmin * m1, y + 32);
    }
  }
}

void dequantize_q6_k(const void* src, float* dst, int64_t n) {
  const BlockQ6_K* b = static_cast<const BlockQ6_K*>(src);
  const __m256i offset = _mm256_set1_epi8(32);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const float d = fp16_to_fp32(b[blk].d);
    for (int half = 0; half < 2; ++half) {
      __m256i q[4];
      unpack_q6_k_half(b[blk].ql + 64 * half, b[blk].qh + 32 * half, q);
      for (int k = 0; k < 4; ++k) {
        // Two 16-element sub-blocks with their own scales share one register.
        float tmp[32];
        store_scaled_i8(_mm256_sub_epi8(q[k], offset), d, tmp);
        const int s = 8 * half + 2 * k;
        float* y = dst + blk * kQK_K + 128 * half + 32 * k;
        const __m256 s0 = _mm256_set1_ps(b[blk].scales[s]), s1 = _mm256_set1_ps(b[blk].scales[s + 1]);
        _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_loadu_ps(tmp), s0));
        _mm256_storeu_ps(y + 8, _mm256_mul_ps(_mm256_loadu_ps(tmp + 8), s0));
        _mm256_storeu_ps(y + 16, _mm256_mul_ps(_mm256_loadu_ps(tmp + 16), s1));
        _mm256_storeu_ps(y + 24, _mm256_mul_ps(_mm256_loadu_ps(tmp + 24), s1));
      }
    }
  }
}

#ifdef FM_SIMD_AVX512
// ---- activation quantizers, bit-identical to the scalar ones ------------------------------------------------
// round-to-nearest-even, NaN -> 0, clamped to [lo, hi], as int8.
inline __m128i round_clamp_i8(__m512 v, float lo, float hi) {
  v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
  v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(lo)), _mm512_set1_ps(hi));
  return _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
}

inline __m512 abs_f(__m512 v) { return _mm512_abs_ps(v); }

void quantize_q8_0(const float* src, void* dst, int64_t n) {
  BlockQ8_0* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const __m512 x0 = _mm512_loadu_ps(src + blk * kQK), x1 = _mm512_loadu_ps(src + blk * kQK + 16);
    // max_ps returns its second operand when the first is NaN, so NaN inputs are skipped as std::fmax does.
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(abs_f(x1), _mm512_max_ps(abs_f(x0), _mm512_setzero_ps())));
    const float d = amax / 127.f;
    const float id = d != 0 ? 1.f / d : 0.f;
    b[blk].d = fp32_to_fp16(d);
    const __m512 vid = _mm512_set1_ps(id);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b[blk].qs), round_clamp_i8(_mm512_mul_ps(x0, vid), -127.f, 127.f));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b[blk].qs + 16), round_clamp_i8(_mm512_mul_ps(x1, vid), -127.f, 127.f));
  }
}

void quantize_q8_k(const float* src, void* dst, int64_t n) {
  BlockQ8_K* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const float* x = src + blk * kQK_K;
    __m512 vmax = _mm512_setzero_ps();
    for (int i = 0; i < kQK_K; i += 16) vmax = _mm512_max_ps(abs_f(_mm512_loadu_ps(x + i)), vmax);
    const float amax = _mm512_reduce_max_ps(vmax);
    if (amax == 0) {
      std::memset(&b[blk], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The signed value of the first element of largest magnitude.
    float max = 0;
    for (int i = 0; i < kQK_K; i += 16) {
      const __mmask16 hit = _mm512_cmp_ps_mask(abs_f(_mm512_loadu_ps(x + i)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (hit) {
        max = x[i + __builtin_ctz(hit)];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m512 vs = _mm512_set1_ps(iscale);
    for (int i = 0; i < kQK_K; i += 16) {
      const __m128i q = round_clamp_i8(_mm512_mul_ps(vs, _mm512_loadu_ps(x + i)), -128.f, 127.f);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b[blk].qs + i), q);
      b[blk].bsums[i / 16] = static_cast<int16_t>(_mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(q)));
    }
    b[blk].d = 1.f / iscale;
  }
}
#endif

KernelTable make_table(const char* name) {
  KernelTable t;
  t.name = name;
  auto dot = [&](TensorType type, VecDotFn fn) { t.vec_dot[static_cast<uint32_t>(type)] = fn; };
  dot(TensorType::F32, vec_dot_f32);
  dot(TensorType::F16, vec_dot_f16);
  dot(TensorType::BF16, vec_dot_bf16);
  dot(TensorType::Q4_0, vec_dot_q4_0);
  dot(TensorType::Q4_1, vec_dot_q4_1);
  dot(TensorType::Q5_0, vec_dot_q5_0);
  dot(TensorType::Q5_1, vec_dot_q5_1);
  dot(TensorType::Q8_0, vec_dot_q8_0);
  dot(TensorType::Q4_K, vec_dot_q4_k);
  dot(TensorType::Q5_K, vec_dot_q5_k);
  dot(TensorType::Q6_K, vec_dot_q6_k);
  auto deq = [&](TensorType type, DequantizeRowFn fn) { t.dequantize[static_cast<uint32_t>(type)] = fn; };
  deq(TensorType::F16, dequantize_f16);
  t.quantize[static_cast<uint32_t>(TensorType::F16)] = quantize_f16;
  deq(TensorType::BF16, dequantize_bf16);
  deq(TensorType::Q4_0, dequantize_q4_0);
  deq(TensorType::Q4_1, dequantize_q4_1);
  deq(TensorType::Q5_0, dequantize_q5_0);
  deq(TensorType::Q5_1, dequantize_q5_1);
  deq(TensorType::Q8_0, dequantize_q8_0);
  deq(TensorType::Q4_K, dequantize_q4_k);
  deq(TensorType::Q5_K, dequantize_q5_k);
  deq(TensorType::Q6_K, dequantize_q6_k);
#ifdef FM_SIMD_AVX512
  t.quantize[static_cast<uint32_t>(TensorType::Q8_0)] = quantize_q8_0;
  t.quantize[static_cast<uint32_t>(TensorType::Q8_K)] = quantize_q8_k;
#endif
  fill_missing_from_scalar(t);
  return t;
}

}  // namespace
}  // namespace FM_SIMD_NS
}  // namespace fm
