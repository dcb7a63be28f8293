#pragma once
// IEEE half and bfloat16 conversions in portable C++, bit-exact with the hardware instructions
// (F16C vcvtps2ph with round-to-nearest-even, and AVX-512 BF16 rounding).
#include <cstdint>
#include <cstring>

// Functions are static (internal linkage) because SIMD translation units include this header with other
// target flags; an inline definition shared across them could resolve to an AVX-512 body in scalar code.
namespace fm {

static inline float bits_to_float(uint32_t w) {
  float f;
  std::memcpy(&f, &w, 4);
  return f;
}
static inline uint32_t float_to_bits(float f) {
  uint32_t w;
  std::memcpy(&w, &f, 4);
  return w;
}

static inline float fp16_to_fp32(uint16_t h) {
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  // Normal numbers: shift exponent and mantissa into place, then rescale the exponent bias by 2^-112.
  const float normalized = bits_to_float((two_w >> 4) + (0xE0u << 23)) * 0x1.0p-112f;
  // Subnormals: build 0.5 + m*2^-24 with a magic exponent, then subtract 0.5.
  const float denormalized = bits_to_float((two_w >> 17) | (126u << 23)) - 0.5f;
  const uint32_t result = sign | (two_w < (1u << 27) ? float_to_bits(denormalized) : float_to_bits(normalized));
  return bits_to_float(result);
}

static inline uint16_t fp32_to_fp16(float f) {
  // Scaling up then down by powers of two makes the FPU do the round-to-nearest-even into 10 mantissa bits.
  float base = (f < 0 ? -f : f) * 0x1.0p+112f;
  base *= 0x1.0p-110f;
  const uint32_t w = float_to_bits(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = bits_to_float((bias >> 1) + 0x07800000u) + base;
  const uint32_t b = float_to_bits(base);
  const uint32_t exp_bits = (b >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = b & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

static inline float bf16_to_fp32(uint16_t h) { return bits_to_float(static_cast<uint32_t>(h) << 16); }

static inline uint16_t fp32_to_bf16(float f) {
  uint32_t w = float_to_bits(f);
  if ((w & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((w >> 16) | 64);  // quiet NaN
  return static_cast<uint16_t>((w + (0x7fffu + ((w >> 16) & 1))) >> 16);             // round to nearest even
}

}  // namespace fm
