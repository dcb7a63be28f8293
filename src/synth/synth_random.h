#pragma once
// The synthesizers' random numbers: xorshift64, uniform in [-1, 1), reproducible from a seed.
#include <cstdint>

namespace fm {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  float uniform() {  // [-1, 1)
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return static_cast<float>(static_cast<int64_t>(s_ >> 11) - (int64_t{1} << 52)) / static_cast<float>(int64_t{1} << 52);
  }

 private:
  uint64_t s_;
};

}  // namespace fm
