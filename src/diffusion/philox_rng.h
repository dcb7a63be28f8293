#pragma once
// The "cuda" random numbers of stable-diffusion.cpp and the popular web UIs (their "GPU" RNG): Philox4x32-10 keyed
// by the 64-bit seed, counter (offset, 0, i, 0) for element i of a draw, and Box-Muller in float on the first two
// output words. Each draw advances the offset by one, so the same seed gives the same initial noise and the same
// ancestral noise on every machine.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fm {

class PhiloxRng {
 public:
  explicit PhiloxRng(uint64_t seed) : seed_(seed) {}
  std::vector<float> randn(size_t n);

 private:
  uint64_t seed_;
  uint32_t offset_ = 0;
};

}  // namespace fm
