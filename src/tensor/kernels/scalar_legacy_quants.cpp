// Reference kernels for the 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and the Q8_1
// activation format.
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/kernels/scalar_kernels.h"
#include "tensor/quant_blocks.h"

namespace fm::scalar {
namespace {

uint32_t load_qh(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

// The 5-bit value of element i (0..31) of a Q5 block, before the offset.
int q5_value(const uint8_t* qs, uint32_t qh, int i) {
  int low = i < 16 ? (qs[i] & 0xF) : (qs[i - 16] >> 4);
  return low | (((qh >> i) & 1) << 4);
}

int q4_value(const uint8_t* qs, int i) { return i < 16 ? (qs[i] & 0xF) : (qs[i - 16] >> 4); }

// Rounds to the nearest int8 in [-127, 127]; NaN (from a broken model's activations) becomes 0.
int8_t round_to_int8(float v) {
  v = std::nearbyint(v);
  if (!(v == v)) return 0;
  return static_cast<int8_t>(v > 127.f ? 127.f : (v < -127.f ? -127.f : v));
}

}  // namespace

void dequantize_q4_0(const void* src, float* dst, int64_t n) {
  const BlockQ4_0* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const float d = fp16_to_fp32(b[blk].d);
    for (int i = 0; i < kQK; ++i) dst[blk * kQK + i] = d * static_cast<float>(q4_value(b[blk].qs, i) - 8);
  }
}

void dequantize_q4_1(const void* src, float* dst, int64_t n) {
  const BlockQ4_1* b = static_cast<const BlockQ4_1*>(src);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const float d = fp16_to_fp32(b[blk].d), m = fp16_to_fp32(b[blk].m);
    for (int i = 0; i < kQK; ++i) dst[blk * kQK + i] = d * static_cast<float>(q4_value(b[blk].qs, i)) + m;
  }
}

void dequantize_q5_0(const void* src, float* dst, int64_t n) {
  const BlockQ5_0* b = static_cast<const BlockQ5_0*>(src);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const float d = fp16_to_fp32(b[blk].d);
    const uint32_t qh = load_qh(b[blk].qh);
    for (int i = 0; i < kQK; ++i) dst[blk * kQK + i] = d * static_cast<float>(q5_value(b[blk].qs, qh, i) - 16);
  }
}

void dequantize_q5_1(const void* src, float* dst, int64_t n) {
  const BlockQ5_1* b = static_cast<const BlockQ5_1*>(src);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const float d = fp16_to_fp32(b[blk].d), m = fp16_to_fp32(b[blk].m);
    const uint32_t qh = load_qh(b[blk].qh);
    for (int i = 0; i < kQK; ++i) dst[blk * kQK + i] = d * static_cast<float>(q5_value(b[blk].qs, qh, i)) + m;
  }
}

void dequantize_q8_0(const void* src, float* dst, int64_t n) {
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const float d = fp16_to_fp32(b[blk].d);
    for (int i = 0; i < kQK; ++i) dst[blk * kQK + i] = d * b[blk].qs[i];
  }
}

void dequantize_q8_1(const void* src, float* dst, int64_t n) {
  const BlockQ8_1* b = static_cast<const BlockQ8_1*>(src);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const float d = fp16_to_fp32(b[blk].d);
    for (int i = 0; i < kQK; ++i) dst[blk * kQK + i] = d * b[blk].qs[i];
  }
}

// Symmetric 8-bit blocks: d = max|x| / 127, q = round-to-nearest-even(x / d).
void quantize_q8_0(const float* src, void* dst, int64_t n) {
  BlockQ8_0* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const float* x = src + blk * kQK;
    float amax = 0;
    for (int i = 0; i < kQK; ++i) amax = std::fmax(amax, std::fabs(x[i]));
    const float d = amax / 127.f;
    const float id = d != 0 ? 1.f / d : 0.f;
    b[blk].d = fp32_to_fp16(d);
    for (int i = 0; i < kQK; ++i) b[blk].qs[i] = round_to_int8(x[i] * id);
  }
}

void quantize_q8_1(const float* src, void* dst, int64_t n) {
  BlockQ8_1* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const float* x = src + blk * kQK;
    float amax = 0;
    for (int i = 0; i < kQK; ++i) amax = std::fmax(amax, std::fabs(x[i]));
    const float d = amax / 127.f;
    const float id = d != 0 ? 1.f / d : 0.f;
    int sum = 0;
    for (int i = 0; i < kQK; ++i) {
      b[blk].qs[i] = round_to_int8(x[i] * id);
      sum += b[blk].qs[i];
    }
    b[blk].d = fp32_to_fp16(d);
    b[blk].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

float vec_dot_q4_0(int64_t n, const void* w, const void* a) {
  const BlockQ4_0* x = static_cast<const BlockQ4_0*>(w);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(a);
  float sum = 0;
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    int sumi = 0;
    for (int i = 0; i < kQK; ++i) sumi += (q4_value(x[blk].qs, i) - 8) * y[blk].qs[i];
    sum += static_cast<float>(sumi) * fp16_to_fp32(x[blk].d) * fp16_to_fp32(y[blk].d);
  }
  return sum;
}

float vec_dot_q4_1(int64_t n, const void* w, const void* a) {
  const BlockQ4_1* x = static_cast<const BlockQ4_1*>(w);
  const BlockQ8_1* y = static_cast<const BlockQ8_1*>(a);
  float sum = 0;
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    int sumi = 0;
    for (int i = 0; i < kQK; ++i) sumi += q4_value(x[blk].qs, i) * y[blk].qs[i];
    sum += static_cast<float>(sumi) * fp16_to_fp32(x[blk].d) * fp16_to_fp32(y[blk].d) +
           fp16_to_fp32(x[blk].m) * fp16_to_fp32(y[blk].s);
  }
  return sum;
}

float vec_dot_q5_0(int64_t n, const void* w, const void* a) {
  const BlockQ5_0* x = static_cast<const BlockQ5_0*>(w);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(a);
  float sum = 0;
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const uint32_t qh = load_qh(x[blk].qh);
    int sumi = 0;
    for (int i = 0; i < kQK; ++i) sumi += (q5_value(x[blk].qs, qh, i) - 16) * y[blk].qs[i];
    sum += static_cast<float>(sumi) * fp16_to_fp32(x[blk].d) * fp16_to_fp32(y[blk].d);
  }
  return sum;
}

float vec_dot_q5_1(int64_t n, const void* w, const void* a) {
  const BlockQ5_1* x = static_cast<const BlockQ5_1*>(w);
  const BlockQ8_1* y = static_cast<const BlockQ8_1*>(a);
  float sum = 0;
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const uint32_t qh = load_qh(x[blk].qh);
    int sumi = 0;
    for (int i = 0; i < kQK; ++i) sumi += q5_value(x[blk].qs, qh, i) * y[blk].qs[i];
    sum += static_cast<float>(sumi) * fp16_to_fp32(x[blk].d) * fp16_to_fp32(y[blk].d) +
           fp16_to_fp32(x[blk].m) * fp16_to_fp32(y[blk].s);
  }
  return sum;
}

float vec_dot_q8_0(int64_t n, const void* w, const void* a) {
  const BlockQ8_0* x = static_cast<const BlockQ8_0*>(w);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(a);
  float sum = 0;
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    int sumi = 0;
    for (int i = 0; i < kQK; ++i) sumi += x[blk].qs[i] * y[blk].qs[i];
    sum += static_cast<float>(sumi) * fp16_to_fp32(x[blk].d) * fp16_to_fp32(y[blk].d);
  }
  return sum;
}

}  // namespace fm::scalar
