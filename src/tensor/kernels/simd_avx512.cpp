// AVX-512 (F/BW/VL/VNNI) instantiation of the SIMD kernels: 512-bit float lanes and vpdpbusd integer dots.
#define FM_SIMD_NS avx512
#define FM_SIMD_AVX512 1
#include "tensor/kernels/simd_kernels-inl.h"

namespace fm {
const KernelTable& avx512_kernels() {
  static const KernelTable table = avx512::make_table("avx512");
  return table;
}
}  // namespace fm
