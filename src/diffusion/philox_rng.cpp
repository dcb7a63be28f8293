#include "diffusion/philox_rng.h"

#include <cmath>

namespace fm {
namespace {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // key increments (Weyl sequence)
constexpr float kTwoPow32Inv = 2.3283064e-10f;
constexpr float kTwoPow32Inv2Pi = 2.3283064e-10f * 6.2831855f;

void philox_round(uint32_t ctr[4], const uint32_t key[2]) {
  const uint64_t p0 = static_cast<uint64_t>(ctr[0]) * kM0;
  const uint64_t p1 = static_cast<uint64_t>(ctr[2]) * kM1;
  const uint32_t c1 = ctr[1], c3 = ctr[3];
  ctr[0] = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ key[0];
  ctr[1] = static_cast<uint32_t>(p1);
  ctr[2] = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ key[1];
  ctr[3] = static_cast<uint32_t>(p0);
}

float box_muller(uint32_t x, uint32_t y) {
  const float u = static_cast<float>(x) * kTwoPow32Inv + kTwoPow32Inv / 2;
  const float v = static_cast<float>(y) * kTwoPow32Inv2Pi + kTwoPow32Inv2Pi / 2;
  const float s = std::sqrt(-2.0f * std::log(u));
  return s * std::sin(v);
}

}  // namespace

std::vector<float> PhiloxRng::randn(size_t n) {
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t ctr[4] = {offset_, 0, static_cast<uint32_t>(i), 0};
    uint32_t key[2] = {static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)};
    for (int r = 0; r < 9; ++r) {
      philox_round(ctr, key);
      key[0] += kW0;
      key[1] += kW1;
    }
    philox_round(ctr, key);
    out[i] = box_muller(ctr[0], ctr[1]);
  }
  ++offset_;
  return out;
}

}  // namespace fm
