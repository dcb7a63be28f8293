// AVX2 products of F16 weight panels (16 rows, column-interleaved) with f32 activation rows: 6 tokens x 16 rows per
// register block, 12 accumulators. Per column: the panel's 16 weights are converted once (two registers) and each
// token's activation is broadcast into two FMAs, so a block reads 32 bytes of weights and 24 of activations per 12
// FMAs. Every output is one FMA chain over the columns in order (as the scalar kernel computes it).
#include <immintrin.h>

#include "tensor/kernels/kernel_table.h"

namespace fm {
namespace {

void store(const __m256 lo, const __m256 hi, int n_rows, float* y) {
  if (n_rows == kPanelRows) {
    _mm256_storeu_ps(y, lo);
    _mm256_storeu_ps(y + 8, hi);
    return;
  }
  alignas(32) float out[kPanelRows];
  _mm256_store_ps(out, lo);
  _mm256_store_ps(out + 8, hi);
  for (int r = 0; r < n_rows; ++r) y[r] = out[r];
}

// Named accumulators rather than an array: GCC keeps an array of vectors in memory across iterations.
void block6(const uint16_t* panel, int64_t n_cols, int n_rows, const float* x, int64_t ldx, float* y, int64_t ldy) {
  __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0,
         a5 = a0, b5 = a0;
  const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx, *x4 = x + 4 * ldx, *x5 = x + 5 * ldx;
  for (int64_t k = 0; k < n_cols; ++k) {
    const __m128i* w = reinterpret_cast<const __m128i*>(panel + k * kPanelRows);
    const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(w)), w1 = _mm256_cvtph_ps(_mm_loadu_si128(w + 1));
    __m256 v = _mm256_broadcast_ss(x0 + k);
    a0 = _mm256_fmadd_ps(v, w0, a0), b0 = _mm256_fmadd_ps(v, w1, b0);
    v = _mm256_broadcast_ss(x1 + k);
    a1 = _mm256_fmadd_ps(v, w0, a1), b1 = _mm256_fmadd_ps(v, w1, b1);
    v = _mm256_broadcast_ss(x2 + k);
    a2 = _mm256_fmadd_ps(v, w0, a2), b2 = _mm256_fmadd_ps(v, w1, b2);
    v = _mm256_broadcast_ss(x3 + k);
    a3 = _mm256_fmadd_ps(v, w0, a3), b3 = _mm256_fmadd_ps(v, w1, b3);
    v = _mm256_broadcast_ss(x4 + k);
    a4 = _mm256_fmadd_ps(v, w0, a4), b4 = _mm256_fmadd_ps(v, w1, b4);
    v = _mm256_broadcast_ss(x5 + k);
    a5 = _mm256_fmadd_ps(v, w0, a5), b5 = _mm256_fmadd_ps(v, w1, b5);
  }
  store(a0, b0, n_rows, y);
  store(a1, b1, n_rows, y + ldy);
  store(a2, b2, n_rows, y + 2 * ldy);
  store(a3, b3, n_rows, y + 3 * ldy);
  store(a4, b4, n_rows, y + 4 * ldy);
  store(a5, b5, n_rows, y + 5 * ldy);
}

void block1(const uint16_t* panel, int64_t n_cols, int n_rows, const float* x, float* y) {
  __m256 a = _mm256_setzero_ps(), b = a;
  for (int64_t k = 0; k < n_cols; ++k) {
    const __m128i* w = reinterpret_cast<const __m128i*>(panel + k * kPanelRows);
    const __m256 v = _mm256_broadcast_ss(x + k);
    a = _mm256_fmadd_ps(v, _mm256_cvtph_ps(_mm_loadu_si128(w)), a);
    b = _mm256_fmadd_ps(v, _mm256_cvtph_ps(_mm_loadu_si128(w + 1)), b);
  }
  store(a, b, n_rows, y);
}

void f16_panel_gemm(const uint16_t* panel, int64_t n_cols, int n_rows, const float* x, int64_t ldx, int64_t n_tok,
                    float* y, int64_t ldy) {
  int64_t t = 0;
  for (; t + 6 <= n_tok; t += 6) block6(panel, n_cols, n_rows, x + t * ldx, ldx, y + t * ldy, ldy);
  for (; t < n_tok; ++t) block1(panel, n_cols, n_rows, x + t * ldx, y + t * ldy);
}

}  // namespace

void set_f16_panel_gemm_avx2(KernelTable& t) { t.f16_panel_gemm = f16_panel_gemm; }

}  // namespace fm
