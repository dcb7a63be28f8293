#include "tensor/kernels/cpu_features.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace fm {
namespace {

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx >> 27) & 1;
  const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool ymm_state = (xcr0 & 0x6) == 0x6;     // SSE + AVX registers saved by the OS
  const bool zmm_state = (xcr0 & 0xE6) == 0xE6;   // plus opmask and upper ZMM
  f.fma = ymm_state && ((ecx >> 12) & 1);
  f.f16c = ymm_state && ((ecx >> 29) & 1);
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  f.avx2 = ymm_state && ((ebx >> 5) & 1);
  f.avx512f = zmm_state && ((ebx >> 16) & 1);
  f.avx512bw = zmm_state && ((ebx >> 30) & 1);
  f.avx512vl = zmm_state && ((ebx >> 31) & 1);
  f.avx512vnni = zmm_state && ((ecx >> 11) & 1);
  if (eax >= 1) {  // leaf 7 has sub-leaf 1
    unsigned a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    f.avx512bf16 = zmm_state && ((a1 >> 5) & 1);
  }
  const bool tile_state = (xcr0 & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA
  if (tile_state && ((edx >> 24) & 1) && ((edx >> 25) & 1)) {
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    const bool granted = syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
    f.amx_int8 = granted;
    f.amx_bf16 = granted && ((edx >> 22) & 1);
  }
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace fm
