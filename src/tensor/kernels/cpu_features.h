#pragma once
// x86 CPU features that decide which kernel tables may run (CPUID plus the OS's XSAVE state for wide registers).
namespace fm {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false, avx512bf16 = false;
  // AMX tiles with int8 and bf16 products, enabled for this process (Linux grants the tile state on request).
  bool amx_int8 = false, amx_bf16 = false;
};

const CpuFeatures& cpu_features();

}  // namespace fm
