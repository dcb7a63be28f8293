// AVX-512 element-wise activations.
#include <immintrin.h>

#include "tensor/kernels/kernel_table.h"
#include "tensor/kernels/vector_exp_avx512.h"

namespace fm {
namespace {

// out = silu(gate) * up = gate / (1 + exp(-gate)) * up; out may alias gate.
void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
  auto step = [](__m512 g, __m512 u) {
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), g));
    return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.f), e)), u);
  };
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, step(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(out + i, m, step(_mm512_maskz_loadu_ps(m, gate + i), _mm512_maskz_loadu_ps(m, up + i)));
  }
}

// GELU through ggml's f16 table, 16 values at a time: round to f16 (F16C, to nearest even as the scalar code),
// gather the table entries, convert back, and apply the |x| >= 10 shortcuts.
void gelu(const float* x, int64_t n, float* out) {
  const uint16_t* table = gelu_fp16_table();
  auto step = [table](__m512 v) {
    const __m256i h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i idx = _mm512_cvtepu16_epi32(h);
    const __m512i entries = _mm512_i32gather_epi32(idx, table, 2);  // 32 bits read; the low 16 are the entry
    const __m512 g = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(entries));
    const __mmask16 high = _mm512_cmp_ps_mask(v, _mm512_set1_ps(10.f), _CMP_GE_OQ);
    const __mmask16 low = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-10.f), _CMP_LE_OQ);
    return _mm512_mask_mov_ps(_mm512_mask_mov_ps(g, high, v), low, _mm512_setzero_ps());
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, step(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(out + i, m, step(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

}  // namespace

void set_activations_avx512(KernelTable& t) {
  t.swiglu = swiglu;
  t.gelu = gelu;
}

}  // namespace fm
