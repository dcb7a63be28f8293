// AVX2 + FMA + F16C instantiation of the SIMD kernels (compiled with -mavx2 -mfma -mf16c).
#define FM_SIMD_NS avx2
#include "tensor/kernels/simd_kernels-inl.h"

namespace fm {
void set_f16_panel_gemm_avx2(KernelTable& t);  // AVX2 + F16C: also what AVX-512 CPUs run
void set_attention_avx2(KernelTable& t);
void set_f16_gemm_avx2(KernelTable& t);
void set_quant_dots_avx2(KernelTable& t);

const KernelTable& avx2_kernels() {
  static const KernelTable table = [] {
    KernelTable t = avx2::make_table("avx2");
    set_attention_avx2(t);
    set_f16_gemm_avx2(t);
    set_f16_panel_gemm_avx2(t);
    set_quant_dots_avx2(t);
    return t;
  }();
  return table;
}
}  // namespace fm
