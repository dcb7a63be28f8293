#include "tensor/kernels/kernel_table.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "tensor/kernels/cpu_features.h"
#include "tensor/kernels/scalar_kernels.h"

namespace fm {
namespace {

void set(KernelTable& t, TensorType type, DequantizeRowFn deq, QuantizeRowFn quant, VecDotFn dot) {
  const uint32_t slot = static_cast<uint32_t>(type);
  t.dequantize[slot] = deq;
  t.quantize[slot] = quant;
  t.vec_dot[slot] = dot;
}

KernelTable make_scalar_table() {
  KernelTable t;
  t.name = "scalar";
  using namespace scalar;
  set(t, TensorType::F32, dequantize_f32, quantize_f32, vec_dot_f32);
  set(t, TensorType::F16, dequantize_f16, quantize_f16, vec_dot_f16);
  set(t, TensorType::BF16, dequantize_bf16, quantize_bf16, vec_dot_bf16);
  set(t, TensorType::Q4_0, dequantize_q4_0, quantize_q4_0, vec_dot_q4_0);
  set(t, TensorType::Q4_1, dequantize_q4_1, nullptr, vec_dot_q4_1);
  set(t, TensorType::Q5_0, dequantize_q5_0, quantize_q5_0, vec_dot_q5_0);
  set(t, TensorType::Q5_1, dequantize_q5_1, nullptr, vec_dot_q5_1);
  set(t, TensorType::Q8_0, dequantize_q8_0, quantize_q8_0, vec_dot_q8_0);
  set(t, TensorType::Q8_1, dequantize_q8_1, quantize_q8_1, nullptr);
  set(t, TensorType::Q4_K, dequantize_q4_k, quantize_q4_k, vec_dot_q4_k);
  set(t, TensorType::Q5_K, dequantize_q5_k, nullptr, vec_dot_q5_k);
  set(t, TensorType::Q6_K, dequantize_q6_k, quantize_q6_k, vec_dot_q6_k);
  set(t, TensorType::Q8_K, dequantize_q8_k, quantize_q8_k, nullptr);
  t.key_scores_f32 = key_scores_f32;
  t.key_scores_f16 = key_scores_f16;
  t.value_sum_f32 = value_sum_f32;
  t.value_sum_f16 = value_sum_f16;
  t.softmax = softmax;
  t.exp_weights = exp_weights;
  t.swiglu = swiglu;
  t.gelu = gelu;
  t.f16_panel_gemm = f16_panel_gemm;
  return t;
}

bool cpu_has_avx2() {
  const CpuFeatures& f = cpu_features();
  return f.avx2 && f.fma && f.f16c;
}
bool cpu_has_avx512() {
  const CpuFeatures& f = cpu_features();
  return cpu_has_avx2() && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
}

}  // namespace

TensorType vec_dot_type(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::F16: return TensorType::F16;
    case TensorType::BF16: return TensorType::BF16;
    case TensorType::Q4_0:
    case TensorType::Q5_0:
    case TensorType::Q8_0: return TensorType::Q8_0;
    case TensorType::Q4_1:
    case TensorType::Q5_1: return TensorType::Q8_1;
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K: return TensorType::Q8_K;
    default: return TensorType::F32;
  }
}

bool weight_type_supported(TensorType t) {
  const uint32_t slot = static_cast<uint32_t>(t);
  return slot < kTypeSlots && scalar_kernels().vec_dot[slot] != nullptr;
}

const KernelTable& scalar_kernels() {
  static const KernelTable table = make_scalar_table();
  return table;
}

std::vector<const KernelTable*> available_kernels() {
  std::vector<const KernelTable*> out{&scalar_kernels()};
  if (cpu_has_avx2()) out.push_back(&avx2_kernels());
  if (cpu_has_avx512()) out.push_back(&avx512_kernels());
  return out;
}

const KernelTable& best_kernels() {
  static const KernelTable* chosen = [] {
    auto tables = available_kernels();
    if (const char* forced = std::getenv("FMSERVE_KERNELS")) {
      for (const KernelTable* t : tables)
        if (std::strcmp(t->name, forced) == 0) return t;
    }
    return tables.back();
  }();
  return *chosen;
}

// Fills the slots a SIMD target does not implement with the scalar kernels.
void fill_missing_from_scalar(KernelTable& t) {
  const KernelTable& s = scalar_kernels();
  for (int k = 0; k < kTypeSlots; ++k) {
    if (!t.dequantize[k]) t.dequantize[k] = s.dequantize[k];
    if (!t.quantize[k]) t.quantize[k] = s.quantize[k];
    if (!t.vec_dot[k]) t.vec_dot[k] = s.vec_dot[k];
  }
  if (!t.key_scores_f32) t.key_scores_f32 = s.key_scores_f32;
  if (!t.key_scores_f16) t.key_scores_f16 = s.key_scores_f16;
  if (!t.value_sum_f32) t.value_sum_f32 = s.value_sum_f32;
  if (!t.value_sum_f16) t.value_sum_f16 = s.value_sum_f16;
  if (!t.softmax) t.softmax = s.softmax;
  if (!t.exp_weights) t.exp_weights = s.exp_weights;
  if (!t.swiglu) t.swiglu = s.swiglu;
  if (!t.gelu) t.gelu = s.gelu;
  if (!t.f16_panel_gemm) t.f16_panel_gemm = s.f16_panel_gemm;
}

}  // namespace fm
