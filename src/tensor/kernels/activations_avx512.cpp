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

}  // namespace

void set_activations_avx512(KernelTable& t) { t.swiglu = swiglu; }

}  // namespace fm
