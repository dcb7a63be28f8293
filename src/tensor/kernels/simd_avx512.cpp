// AVX-512 (F/BW/VL/VNNI) instantiation of the SIMD kernels: 512-bit float lanes and vpdpbusd integer dots.
#define FM_SIMD_NS avx512
#define FM_SIMD_AVX512 1
#include "tensor/kernels/simd_kernels-inl.h"

namespace fm {
void set_f16_panel_gemm_avx2(KernelTable& t);  // AVX2 + F16C: also what AVX-512 CPUs run
void packed_matmul_avx512(const Compute& c, const PackedMatrix* const* w, float* const* y, int n_mats, const float* x,
                          int64_t n_tok);
void set_attention_avx512(KernelTable& t);
void set_activations_avx512(KernelTable& t);
void set_exp_weights_avx2(KernelTable& t);  // AVX2 + FMA: the sampler's pass is memory-bound either way

const KernelTable& avx512_kernels() {
  static const KernelTable table = [] {
    KernelTable t = avx512::make_table("avx512");
    t.packed_matmul = packed_matmul_avx512;
    set_attention_avx512(t);
    set_activations_avx512(t);
    set_f16_panel_gemm_avx2(t);
    set_exp_weights_avx2(t);
    return t;
  }();
  return table;
}
}  // namespace fm
