#pragma once
// Unpacking of quantized blocks into AVX2 registers, shared by the per-target dot kernels (simd_kernels-inl.h) and the
// AVX2 multi-token dots (quant_dot_avx2.cpp). Internal linkage: each translation unit compiles its own copy with its
// own target flags.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace fm {
namespace {

// Horizontal sum of eight floats.
inline float hsum_ps256(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

inline __m256i load_256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0..15), then high nibbles (16..31).
inline __m256i unpack_nibbles16(const uint8_t* p) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0xF));
}

// Bit i of a 32-bit word -> byte i = 0xFF or 0x00.
inline __m256i bits_to_bytes(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3,
                                        3, 3, 3, 3, 3);
  const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
  const __m256i others = _mm256_set1_epi64x(static_cast<int64_t>(~0x8040201008040201ull));  // all bits but byte i's
  return _mm256_cmpeq_epi8(_mm256_or_si256(v, others), _mm256_set1_epi8(-1));
}

// One 128-element half as four registers of unsigned 6-bit values (elements 0-31, 32-63, 64-95, 96-127); the -32
// offset is applied through the activation sums.
inline void unpack_q6_k_half(const uint8_t* ql, const uint8_t* qh_bytes, __m256i q[4]) {
  const __m256i low_mask = _mm256_set1_epi8(0xF), high_mask = _mm256_set1_epi8(0x30);
  const __m256i ql0 = load_256(ql), ql1 = load_256(ql + 32), qh = load_256(qh_bytes);
  q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low_mask), _mm256_and_si256(_mm256_slli_epi16(qh, 4), high_mask));
  q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low_mask), _mm256_and_si256(_mm256_slli_epi16(qh, 2), high_mask));
  q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_mask), _mm256_and_si256(qh, high_mask));
  q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_mask),
                         _mm256_and_si256(_mm256_srli_epi16(qh, 2), high_mask));
}

}  // namespace
}  // namespace fm
