// Reference quantizers for weight formats (used to synthesise models): Q4_0, Q5_0, Q4_K, Q6_K.
// They follow the formats' definitions with simple max-based scales, not llama.cpp's search for the best scales.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/kernels/scalar_kernels.h"
#include "tensor/quant_blocks.h"

namespace fm::scalar {
namespace {

// The value of largest magnitude, with its sign.
float signed_max(const float* x, int n) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  return max;
}

int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

}  // namespace

void quantize_q4_0(const float* src, void* dst, int64_t n) {
  BlockQ4_0* b = static_cast<BlockQ4_0*>(dst);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const float* x = src + blk * kQK;
    const float d = signed_max(x, kQK) / -8.f;
    const float id = d != 0 ? 1.f / d : 0.f;
    b[blk].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = clampi(static_cast<int>(x[j] * id + 8.5f), 0, 15);
      const int q1 = clampi(static_cast<int>(x[j + kQK / 2] * id + 8.5f), 0, 15);
      b[blk].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void quantize_q5_0(const float* src, void* dst, int64_t n) {
  BlockQ5_0* b = static_cast<BlockQ5_0*>(dst);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const float* x = src + blk * kQK;
    const float d = signed_max(x, kQK) / -16.f;
    const float id = d != 0 ? 1.f / d : 0.f;
    b[blk].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = clampi(static_cast<int>(x[j] * id + 16.5f), 0, 31);
      const int q1 = clampi(static_cast<int>(x[j + kQK / 2] * id + 16.5f), 0, 31);
      b[blk].qs[j] = static_cast<uint8_t>((q0 & 15) | ((q1 & 15) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + kQK / 2);
    }
    std::memcpy(b[blk].qh, &qh, 4);
  }
}

void quantize_q4_k(const float* src, void* dst, int64_t n) {
  BlockQ4_K* b = static_cast<BlockQ4_K*>(dst);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const float* x = src + blk * kQK_K;
    float scales[8], mins[8];
    for (int j = 0; j < 8; ++j) {
      float lo = 0, hi = 0;  // the minimum is at most 0, so it is stored as a positive "min" subtracted
      for (int l = 0; l < 32; ++l) {
        lo = std::min(lo, x[32 * j + l]);
        hi = std::max(hi, x[32 * j + l]);
      }
      scales[j] = (hi - lo) / 15.f;
      mins[j] = -lo;
    }
    const float max_scale = *std::max_element(scales, scales + 8), max_min = *std::max_element(mins, mins + 8);
    const float d = max_scale / 63.f, dmin = max_min / 63.f;
    b[blk].d = fp32_to_fp16(d);
    b[blk].dmin = fp32_to_fp16(dmin);
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; ++j) {
      sc[j] = static_cast<uint8_t>(d > 0 ? clampi(static_cast<int>(std::lround(scales[j] / d)), 0, 63) : 0);
      mn[j] = static_cast<uint8_t>(dmin > 0 ? clampi(static_cast<int>(std::lround(mins[j] / dmin)), 0, 63) : 0);
    }
    // Pack the 6-bit scales and mins as kquant_scale_min unpacks them.
    std::memset(b[blk].scales, 0, 12);
    for (int j = 0; j < 4; ++j) {
      b[blk].scales[j] = sc[j];
      b[blk].scales[j + 4] = mn[j];
    }
    for (int j = 4; j < 8; ++j) {
      b[blk].scales[j + 4] = static_cast<uint8_t>((sc[j] & 15) | ((mn[j] & 15) << 4));
      b[blk].scales[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      b[blk].scales[j] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
    }
    const float dd = fp16_to_fp32(b[blk].d), dm = fp16_to_fp32(b[blk].dmin);
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int l = 0; l < 32; ++l) {
        int q[2];
        for (int h = 0; h < 2; ++h) {
          const int j = 2 * chunk + h;
          const float step = dd * sc[j];
          q[h] = step > 0 ? clampi(static_cast<int>(std::lround((x[32 * j + l] + dm * mn[j]) / step)), 0, 15) : 0;
        }
        b[blk].qs[32 * chunk + l] = static_cast<uint8_t>(q[0] | (q[1] << 4));
      }
    }
  }
}

void quantize_q6_k(const float* src, void* dst, int64_t n) {
  BlockQ6_K* b = static_cast<BlockQ6_K*>(dst);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const float* x = src + blk * kQK_K;
    float scales[16];
    float max_abs_scale = 0, max_scale = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = signed_max(x + 16 * j, 16) / -32.f;
      if (std::fabs(scales[j]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    const float d = max_scale / -128.f;
    b[blk].d = fp32_to_fp16(d);
    const float dd = fp16_to_fp32(b[blk].d);
    int q[kQK_K];
    for (int j = 0; j < 16; ++j) {
      b[blk].scales[j] = static_cast<int8_t>(dd != 0 ? clampi(static_cast<int>(std::lround(scales[j] / dd)), -128, 127) : 0);
      const float step = dd * b[blk].scales[j];
      for (int l = 0; l < 16; ++l)
        q[16 * j + l] = step != 0 ? clampi(static_cast<int>(std::lround(x[16 * j + l] / step)) + 32, 0, 63) : 32;
    }
    std::memset(b[blk].ql, 0, sizeof b[blk].ql);
    std::memset(b[blk].qh, 0, sizeof b[blk].qh);
    for (int half = 0; half < 2; ++half) {
      uint8_t* ql = b[blk].ql + 64 * half;
      uint8_t* qh = b[blk].qh + 32 * half;
      const int* qq = q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((qq[l] & 15) | ((qq[l + 64] & 15) << 4));
        ql[l + 32] = static_cast<uint8_t>((qq[l + 32] & 15) | ((qq[l + 96] & 15) << 4));
        qh[l] = static_cast<uint8_t>((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) | ((qq[l + 64] >> 4) << 4) | ((qq[l + 96] >> 4) << 6));
      }
    }
  }
}

}  // namespace fm::scalar
