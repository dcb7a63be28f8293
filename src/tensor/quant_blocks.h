#pragma once
// Block layouts of ggml's quantized formats as stored in GGUF files. Scales d/m are IEEE halves.
// Element i of a block is reconstructed as described beside each struct.
#include <cstdint>

namespace fm {

constexpr int kQK = 32;    // elements per block of the legacy formats
constexpr int kQK_K = 256;  // elements per super-block of the k-quants

// x[i] = d * (q[i] - 8); q[i] = qs[i] & 15 for i < 16, qs[i-16] >> 4 otherwise.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
// x[i] = d * q[i] + m.
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[kQK / 2];
};
// x[i] = d * ((q4[i] | bit_i(qh) << 4) - 16).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
// x[i] = d * (q4[i] | bit_i(qh) << 4) + m.
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
// x[i] = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
// Activation format for Q4_1/Q5_1: x[i] = d * qs[i]; s = d * sum(qs).
struct BlockQ8_1 {
  uint16_t d, s;
  int8_t qs[kQK];
};
// 8 sub-blocks of 32 with 6-bit scales and mins packed into 12 bytes:
// x = d * sc[j] * q - dmin * mn[j]; 64-element chunk c uses low nibbles of qs[32c..] for sub-block 2c and
// high nibbles for 2c+1.
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
// As Q4_K with a fifth bit: bit (2c) / (2c+1) of qh[l] extends element l of sub-block 2c / 2c+1.
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
// 16 sub-blocks of 16 with int8 scales: x = d * scales[j] * (q - 32), q 6-bit from ql (4) and qh (2).
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
// Activation format for k-quants: x = d * qs; bsums[j] = sum of qs over elements 16j..16j+15.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block.
static inline void kquant_scale_min(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

}  // namespace fm
