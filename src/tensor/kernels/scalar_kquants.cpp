// Reference kernels for the k-quant super-block formats: Q4_K, Q5_K, Q6_K and the Q8_K activation format.
#include <cmath>

#include "tensor/fp16.h"
#include "tensor/kernels/scalar_kernels.h"
#include "tensor/quant_blocks.h"

namespace fm::scalar {

void dequantize_q4_k(const void* src, float* dst, int64_t n) {
  const BlockQ4_K* b = static_cast<const BlockQ4_K*>(src);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const float d = fp16_to_fp32(b[blk].d), dmin = fp16_to_fp32(b[blk].dmin);
    float* y = dst + blk * kQK_K;
    for (int chunk = 0; chunk < 4; ++chunk) {
      const uint8_t* q = b[blk].qs + 32 * chunk;
      uint8_t sc0, m0, sc1, m1;
      kquant_scale_min(2 * chunk, b[blk].scales, &sc0, &m0);
      kquant_scale_min(2 * chunk + 1, b[blk].scales, &sc1, &m1);
      for (int l = 0; l < 32; ++l) {
        y[64 * chunk + l] = d * sc0 * (q[l] & 0xF) - dmin * m0;
        y[64 * chunk + 32 + l] = d * sc1 * (q[l] >> 4) - dmin * m1;
      }
    }
  }
}

void dequantize_q5_k(const void* src, float* dst, int64_t n) {
  const BlockQ5_K* b = static_cast<const BlockQ5_K*>(src);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const float d = fp16_to_fp32(b[blk].d), dmin = fp16_to_fp32(b[blk].dmin);
    float* y = dst + blk * kQK_K;
    for (int chunk = 0; chunk < 4; ++chunk) {
      const uint8_t* q = b[blk].qs + 32 * chunk;
      uint8_t sc0, m0, sc1, m1;
      kquant_scale_min(2 * chunk, b[blk].scales, &sc0, &m0);
      kquant_scale_min(2 * chunk + 1, b[blk].scales, &sc1, &m1);
      for (int l = 0; l < 32; ++l) {
        int hi0 = (b[blk].qh[l] >> (2 * chunk)) & 1, hi1 = (b[blk].qh[l] >> (2 * chunk + 1)) & 1;
        y[64 * chunk + l] = d * sc0 * ((q[l] & 0xF) | (hi0 << 4)) - dmin * m0;
        y[64 * chunk + 32 + l] = d * sc1 * ((q[l] >> 4) | (hi1 << 4)) - dmin * m1;
      }
    }
  }
}

namespace {

// The unsigned 6-bit value (0..63) of element i (0..255) of a Q6_K block.
int q6_value(const BlockQ6_K& b, int i) {
  const int half = i / 128, r = i % 128, quarter = r / 32, l = r % 32;
  const uint8_t* ql = b.ql + 64 * half;
  const uint8_t* qh = b.qh + 32 * half;
  const int low = (quarter & 1) ? (quarter == 1 ? ql[l + 32] & 0xF : ql[l + 32] >> 4)
                                : (quarter == 0 ? ql[l] & 0xF : ql[l] >> 4);
  return low | (((qh[l] >> (2 * quarter)) & 3) << 4);
}

}  // namespace

void dequantize_q6_k(const void* src, float* dst, int64_t n) {
  const BlockQ6_K* b = static_cast<const BlockQ6_K*>(src);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const float d = fp16_to_fp32(b[blk].d);
    for (int i = 0; i < kQK_K; ++i)
      dst[blk * kQK_K + i] = d * b[blk].scales[i / 16] * static_cast<float>(q6_value(b[blk], i) - 32);
  }
}

void dequantize_q8_k(const void* src, float* dst, int64_t n) {
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(src);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk)
    for (int i = 0; i < kQK_K; ++i) dst[blk * kQK_K + i] = b[blk].d * b[blk].qs[i];
}

// Scale chosen from the signed value of largest magnitude so that it maps to -127 exactly (as ggml does).
void quantize_q8_k(const float* src, void* dst, int64_t n) {
  BlockQ8_K* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const float* x = src + blk * kQK_K;
    float amax = 0, max = 0;
    for (int i = 0; i < kQK_K; ++i) {
      if (std::fabs(x[i]) > amax) {
        amax = std::fabs(x[i]);
        max = x[i];
      }
    }
    if (amax == 0) {
      b[blk].d = 0;
      for (int i = 0; i < kQK_K; ++i) b[blk].qs[i] = 0;
      for (int j = 0; j < kQK_K / 16; ++j) b[blk].bsums[j] = 0;
      continue;
    }
    const float iscale = -127.f / max;
    for (int i = 0; i < kQK_K; ++i) {
      const float v = std::nearbyint(iscale * x[i]);  // NaN/inf only from a broken model: clamp, never UB
      b[blk].qs[i] = static_cast<int8_t>(!(v == v) ? 0.f : (v > 127.f ? 127.f : (v < -128.f ? -128.f : v)));
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += b[blk].qs[16 * j + i];
      b[blk].bsums[j] = static_cast<int16_t>(sum);
    }
    b[blk].d = 1.f / iscale;
  }
}

float vec_dot_q4_k(int64_t n, const void* w, const void* a) {
  const BlockQ4_K* x = static_cast<const BlockQ4_K*>(w);
  const BlockQ8_K* y = static_cast<const BlockQ8_K*>(a);
  float sum = 0;
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    int sumi = 0, summ = 0;
    for (int chunk = 0; chunk < 4; ++chunk) {
      const uint8_t* q = x[blk].qs + 32 * chunk;
      const int8_t* yq = y[blk].qs + 64 * chunk;
      uint8_t sc0, m0, sc1, m1;
      kquant_scale_min(2 * chunk, x[blk].scales, &sc0, &m0);
      kquant_scale_min(2 * chunk + 1, x[blk].scales, &sc1, &m1);
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        s0 += (q[l] & 0xF) * yq[l];
        s1 += (q[l] >> 4) * yq[32 + l];
      }
      sumi += sc0 * s0 + sc1 * s1;
      summ += m0 * (y[blk].bsums[4 * chunk] + y[blk].bsums[4 * chunk + 1]) +
              m1 * (y[blk].bsums[4 * chunk + 2] + y[blk].bsums[4 * chunk + 3]);
    }
    sum += y[blk].d * (fp16_to_fp32(x[blk].d) * static_cast<float>(sumi) -
                       fp16_to_fp32(x[blk].dmin) * static_cast<float>(summ));
  }
  return sum;
}

float vec_dot_q5_k(int64_t n, const void* w, const void* a) {
  const BlockQ5_K* x = static_cast<const BlockQ5_K*>(w);
  const BlockQ8_K* y = static_cast<const BlockQ8_K*>(a);
  float sum = 0;
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    int sumi = 0, summ = 0;
    for (int chunk = 0; chunk < 4; ++chunk) {
      const uint8_t* q = x[blk].qs + 32 * chunk;
      const int8_t* yq = y[blk].qs + 64 * chunk;
      uint8_t sc0, m0, sc1, m1;
      kquant_scale_min(2 * chunk, x[blk].scales, &sc0, &m0);
      kquant_scale_min(2 * chunk + 1, x[blk].scales, &sc1, &m1);
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        int hi0 = (x[blk].qh[l] >> (2 * chunk)) & 1, hi1 = (x[blk].qh[l] >> (2 * chunk + 1)) & 1;
        s0 += ((q[l] & 0xF) | (hi0 << 4)) * yq[l];
        s1 += ((q[l] >> 4) | (hi1 << 4)) * yq[32 + l];
      }
      sumi += sc0 * s0 + sc1 * s1;
      summ += m0 * (y[blk].bsums[4 * chunk] + y[blk].bsums[4 * chunk + 1]) +
              m1 * (y[blk].bsums[4 * chunk + 2] + y[blk].bsums[4 * chunk + 3]);
    }
    sum += y[blk].d * (fp16_to_fp32(x[blk].d) * static_cast<float>(sumi) -
                       fp16_to_fp32(x[blk].dmin) * static_cast<float>(summ));
  }
  return sum;
}

float vec_dot_q6_k(int64_t n, const void* w, const void* a) {
  const BlockQ6_K* x = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* y = static_cast<const BlockQ8_K*>(a);
  float sum = 0;
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    int sumi = 0;
    for (int sub = 0; sub < kQK_K / 16; ++sub) {
      int s = 0;
      for (int i = 16 * sub; i < 16 * sub + 16; ++i) s += (q6_value(x[blk], i) - 32) * y[blk].qs[i];
      sumi += x[blk].scales[sub] * s;
    }
    sum += fp16_to_fp32(x[blk].d) * y[blk].d * static_cast<float>(sumi);
  }
  return sum;
}

}  // namespace fm::scalar
