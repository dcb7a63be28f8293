// AVX2 products of F16 weight rows with f32 activations, 4 rows x 3 tokens per register block: each weight vector
// is converted once and used for three tokens (the per-element dot of vec_dot_f16 converts both operands every
// time). Each dot keeps one 8-lane accumulator over the columns in order and is reduced the same way, so blocking
// never changes a result.
#include <immintrin.h>

#include <type_traits>

#include "tensor/kernels/kernel_table.h"

namespace fm {
namespace {

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

inline __m256 load_w(const uint8_t* row, int64_t d) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * d)));
}

template <int NR, int NT>
void block(const uint8_t* const* rows, const float* const* xs, int64_t n_cols, float* const* out) {
  __m256 acc[NR][NT];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t d = 0; d < n_cols; d += 8) {
    __m256 x[NT];
    for (int t = 0; t < NT; ++t) x[t] = _mm256_loadu_ps(xs[t] + d);
    for (int r = 0; r < NR; ++r) {
      const __m256 w = load_w(rows[r], d);
      for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_fmadd_ps(w, x[t], acc[r][t]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < NT; ++t) out[t][r] = hsum(acc[r][t]);
}

void f16_gemm(const uint8_t* w, size_t row_bytes, int64_t r0, int64_t r1, int64_t n_cols, const float* x, int64_t n_tok,
              float* y, int64_t ldy) {
  int64_t t = 0;
  auto rows_for = [&](auto tokens_const) {
    constexpr int NT = decltype(tokens_const)::value;
    const float* xs[NT];
    for (int i = 0; i < NT; ++i) xs[i] = x + (t + i) * n_cols;
    int64_t r = r0;
    auto run = [&](auto rows_const) {
      constexpr int NR = decltype(rows_const)::value;
      const uint8_t* rows[NR];
      for (int i = 0; i < NR; ++i) rows[i] = w + (r + i) * row_bytes;
      float* out[NT];
      for (int i = 0; i < NT; ++i) out[i] = y + (t + i) * ldy + r;
      block<NR, NT>(rows, xs, n_cols, out);
      r += NR;
    };
    // 4 rows x 3 tokens: 12 accumulators (enough to cover the FMA latency) and 7 loads per 12 FMAs.
    if constexpr (NT == 3) {
      while (r + 4 <= r1) run(std::integral_constant<int, 4>{});
    }
    while (r + 2 <= r1) run(std::integral_constant<int, 2>{});
    while (r < r1) run(std::integral_constant<int, 1>{});
  };
  for (; t + 3 <= n_tok; t += 3) rows_for(std::integral_constant<int, 3>{});
  for (; t < n_tok; ++t) rows_for(std::integral_constant<int, 1>{});
}

}  // namespace

void set_f16_gemm_avx2(KernelTable& t) { t.f16_gemm = f16_gemm; }

}  // namespace fm
