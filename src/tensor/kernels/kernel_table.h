#pragma once
// Function tables of the CPU kernels, one per compiled SIMD target. Kernels know nothing of models:
// they dequantize rows, quantize activation rows, and take dot products of a weight row with an
// activation row already converted to the weight type's activation format (vec_dot_type).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/tensor_type.h"

namespace fm {

using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);
// Dot product of one weight row (n elements) with one activation row of the matching vec_dot_type.
using VecDotFn = float (*)(int64_t n, const void* weight_row, const void* act_row);
// The same for n_act (1..4) activation rows `act_stride` bytes apart: out[t] = weight_row . act_t. The weight row's
// unpacking is shared; each out[t] is computed exactly as vec_dot computes it alone.
using VecDotTokensFn = void (*)(int64_t n, const void* weight_row, const void* act, size_t act_stride, int n_act,
                                float* out);

struct Compute;
class PackedMatrix;
// Products of n_mats (at most 8) weight matrices repacked at load (tensor/packed_matrix.h) with one input x:
// y[i]: [n_tok, w[i]->n_rows]. The matrices have the same number of columns.
using PackedMatmulFn = void (*)(const Compute& c, const PackedMatrix* const* w, float* const* y, int n_mats,
                                const float* x, int64_t n_tok);

// Attention over K/V cache rows (f32 or f16 elements, `stride` bytes apart) for n_q queries sharing the rows.
// scores[i * ld + j] = scale * (q_i . key_j); q_i = q + i * dim.
using KeyScoresFn = void (*)(const float* q, int64_t n_q, int64_t dim, const void* keys, size_t stride, int64_t n_keys,
                             float scale, float* scores, int64_t ld);
// out_i[d] += sum_j w[i * ld + j] * value_j[d]; out_i = out + i * out_stride.
using ValueSumFn = void (*)(const float* w, int64_t n_q, int64_t ld, const void* values, size_t stride,
                            int64_t n_keys, int64_t dim, float* out, int64_t out_stride);
// x = softmax(x), then optionally rounded to f16 (ggml's f16 V product takes the weights as f16).
using SoftmaxFn = void (*)(float* x, int64_t n, bool round_to_f16);
// out[i] = exp((x[i] - shift) * scale), exactly 0 where that is below e^-87 or x[i] is NaN (masked logits); returns
// the sum. The sampler's pass over the vocabulary.
using ExpWeightsFn = double (*)(const float* x, int64_t n, float shift, float scale, float* out);
// out[i] = silu(gate[i]) * up[i]; out may alias gate.
using SwigluFn = void (*)(const float* gate, const float* up, int64_t n, float* out);
// out[i] = gelu_tanh(x[i]) as ggml-cpu evaluates it: x rounded to f16, looked up in a table of f16 results
// (gelu_fp16_table), |x| >= 10 passed through or zeroed. out may alias x.
using GeluFn = void (*)(const float* x, int64_t n, float* out);

// ggml-cpu's GELU table: entry h = fp16(gelu_tanh(fp32(h))) for every f16 bit pattern h, plus one padding entry so
// a 32-bit gather at the last index stays inside.
const uint16_t* gelu_fp16_table();

// Products of F16 weight rows [r0, r1) with n_tok f32 activation rows x (values already rounded to f16, as ggml's F16
// dot takes them): y[t * ldy + r] = W[r] . x[t]. Every dot accumulates in one fixed order however rows and tokens
// are blocked, so a token's result does not depend on the batch around it. n_cols is a multiple of 8.
using F16GemmFn = void (*)(const uint8_t* w, size_t row_bytes, int64_t r0, int64_t r1, int64_t n_cols, const float* x,
                           int64_t n_tok, float* y, int64_t ldy);

// Products of one panel of 16 F16 weight rows stored column-interleaved (panel[k * 16 + r] = W[r0 + r][k], rows past
// the matrix zero) with n_tok f32 activation rows of f16 values: y[t * ldy + r] = sum_k W[r][k] * x[t * ldx + k] for
// the first n_rows (<= 16) rows. Each output is one f32 fused multiply-add chain over k in order, whatever the
// blocking, so a token's result does not depend on the others. (Convolutions: many tokens, weights read once per
// block of tokens, activations broadcast from L1.)
using F16PanelGemmFn = void (*)(const uint16_t* panel, int64_t n_cols, int n_rows, const float* x, int64_t ldx,
                                int64_t n_tok, float* y, int64_t ldy);
constexpr int kPanelRows = 16;

constexpr int kTypeSlots = 32;  // indexed by TensorType id

struct KernelTable {
  const char* name = "";
  DequantizeRowFn dequantize[kTypeSlots] = {};
  QuantizeRowFn quantize[kTypeSlots] = {};
  VecDotFn vec_dot[kTypeSlots] = {};
  VecDotTokensFn vec_dot_tokens[kTypeSlots] = {};  // optional (AVX2); matmul falls back to vec_dot
  PackedMatmulFn packed_matmul = nullptr;  // set by targets that have packed GEMM kernels
  F16GemmFn f16_gemm = nullptr;            // unpacked F16 weights, register-blocked (targets without packed F16)
  F16PanelGemmFn f16_panel_gemm = nullptr;  // F16 weights in panels of 16 rows (diffusion convolutions)
  KeyScoresFn key_scores_f32 = nullptr, key_scores_f16 = nullptr;
  ValueSumFn value_sum_f32 = nullptr, value_sum_f16 = nullptr;
  SoftmaxFn softmax = nullptr;
  ExpWeightsFn exp_weights = nullptr;
  SwigluFn swiglu = nullptr;
  GeluFn gelu = nullptr;

  DequantizeRowFn dequantize_fn(TensorType t) const { return dequantize[static_cast<uint32_t>(t)]; }
  QuantizeRowFn quantize_fn(TensorType t) const { return quantize[static_cast<uint32_t>(t)]; }
  VecDotFn vec_dot_fn(TensorType t) const { return vec_dot[static_cast<uint32_t>(t)]; }
  VecDotTokensFn vec_dot_tokens_fn(TensorType t) const { return vec_dot_tokens[static_cast<uint32_t>(t)]; }
};

// The activation format a weight type's dot product consumes (as ggml-cpu does).
TensorType vec_dot_type(TensorType weight_type);
// True if matmul/dequantize support this weight type.
bool weight_type_supported(TensorType t);

// Portable reference kernels; every SIMD kernel is tested against these.
const KernelTable& scalar_kernels();
// The fastest table this CPU runs (scalar entries fill what a SIMD target lacks). FMSERVE_KERNELS=scalar|avx2|avx512
// in the environment forces a table.
const KernelTable& best_kernels();
// Every table this CPU can run, scalar first.
std::vector<const KernelTable*> available_kernels();

// Per-target tables (defined in simd_avx2.cpp / simd_avx512.cpp); complete, with scalar fallbacks.
const KernelTable& avx2_kernels();
const KernelTable& avx512_kernels();

}  // namespace fm
