#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <random>

#include "tensor/fp16.h"
#include "tensor/kernels/cpu_features.h"

namespace fm {
namespace {

__attribute__((target("f16c"))) uint16_t hardware_fp16(float f) { return static_cast<uint16_t>(_cvtss_sh(f, 0)); }
__attribute__((target("f16c"))) float hardware_fp32(uint16_t h) { return _cvtsh_ss(h); }

TEST(Fp16, EveryHalfConvertsLikeTheHardware) {
  if (!cpu_features().f16c) GTEST_SKIP() << "no F16C on this CPU";
  for (uint32_t h = 0; h < 65536; ++h) {
    const float soft = fp16_to_fp32(static_cast<uint16_t>(h));
    const float hard = hardware_fp32(static_cast<uint16_t>(h));
    if (std::isnan(hard)) {
      EXPECT_TRUE(std::isnan(soft)) << h;
      continue;
    }
    ASSERT_EQ(float_to_bits(soft), float_to_bits(hard)) << h;
    ASSERT_EQ(fp32_to_fp16(soft), h) << "round trip of " << h;
  }
}

TEST(Fp16, RoundingOfRandomFloatsMatchesTheHardware) {
  if (!cpu_features().f16c) GTEST_SKIP() << "no F16C on this CPU";
  std::mt19937 rng(1);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 2000000; ++i) {
    const float f = bits_to_float(bits(rng));
    if (std::isnan(f)) continue;
    ASSERT_EQ(fp32_to_fp16(f), hardware_fp16(f)) << f;
  }
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(fp32_to_bf16(bits_to_float(0x3F808000)), 0x3F80);  // tie, even stays
  EXPECT_EQ(fp32_to_bf16(bits_to_float(0x3F818000)), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(fp32_to_bf16(bits_to_float(0x3F808001)), 0x3F81);
  EXPECT_EQ(bf16_to_fp32(0xC000), -2.0f);
}

}  // namespace
}  // namespace fm
