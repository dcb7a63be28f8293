#pragma once
// Declarations of the portable reference kernels (one source file per family of formats).
#include <cstddef>
#include <cstdint>

namespace fm::scalar {

void dequantize_f32(const void* src, float* dst, int64_t n);
void dequantize_f16(const void* src, float* dst, int64_t n);
void dequantize_bf16(const void* src, float* dst, int64_t n);
void dequantize_q4_0(const void* src, float* dst, int64_t n);
void dequantize_q4_1(const void* src, float* dst, int64_t n);
void dequantize_q5_0(const void* src, float* dst, int64_t n);
void dequantize_q5_1(const void* src, float* dst, int64_t n);
void dequantize_q8_0(const void* src, float* dst, int64_t n);
void dequantize_q8_1(const void* src, float* dst, int64_t n);
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
void dequantize_q8_k(const void* src, float* dst, int64_t n);

void quantize_f32(const float* src, void* dst, int64_t n);
void quantize_f16(const float* src, void* dst, int64_t n);
void quantize_bf16(const float* src, void* dst, int64_t n);
void quantize_q8_0(const float* src, void* dst, int64_t n);
void quantize_q8_1(const float* src, void* dst, int64_t n);
void quantize_q8_k(const float* src, void* dst, int64_t n);
void quantize_q4_0(const float* src, void* dst, int64_t n);
void quantize_q5_0(const float* src, void* dst, int64_t n);
void quantize_q4_k(const float* src, void* dst, int64_t n);
void quantize_q6_k(const float* src, void* dst, int64_t n);

float vec_dot_f32(int64_t n, const void* w, const void* a);
float vec_dot_f16(int64_t n, const void* w, const void* a);
float vec_dot_bf16(int64_t n, const void* w, const void* a);
float vec_dot_q4_0(int64_t n, const void* w, const void* a);
float vec_dot_q4_1(int64_t n, const void* w, const void* a);
float vec_dot_q5_0(int64_t n, const void* w, const void* a);
float vec_dot_q5_1(int64_t n, const void* w, const void* a);
float vec_dot_q8_0(int64_t n, const void* w, const void* a);
float vec_dot_q4_k(int64_t n, const void* w, const void* a);
float vec_dot_q5_k(int64_t n, const void* w, const void* a);
float vec_dot_q6_k(int64_t n, const void* w, const void* a);

void key_scores_f32(const float* q, int64_t n_q, int64_t dim, const void* keys, size_t stride, int64_t n_keys,
                    float scale, float* scores, int64_t ld);
void key_scores_f16(const float* q, int64_t n_q, int64_t dim, const void* keys, size_t stride, int64_t n_keys,
                    float scale, float* scores, int64_t ld);
void value_sum_f32(const float* w, int64_t n_q, int64_t ld, const void* values, size_t stride, int64_t n_keys,
                   int64_t dim, float* out, int64_t out_stride);
void value_sum_f16(const float* w, int64_t n_q, int64_t ld, const void* values, size_t stride, int64_t n_keys,
                   int64_t dim, float* out, int64_t out_stride);
void softmax(float* x, int64_t n, bool round_to_f16);
double exp_weights(const float* x, int64_t n, float shift, float scale, float* out);
void swiglu(const float* gate, const float* up, int64_t n, float* out);
void gelu(const float* x, int64_t n, float* out);
void f16_panel_gemm(const uint16_t* panel, int64_t n_cols, int n_rows, const float* x, int64_t ldx, int64_t n_tok,
                    float* y, int64_t ldy);

}  // namespace fm::scalar
