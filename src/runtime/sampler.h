#pragma once
// Token selection from logits: greedy, or temperature sampling after top-k, top-p and min-p filtering
// (applied in that order, on probabilities before temperature, as llama.cpp's default chain does). O(vocabulary) per
// token: the whole vocabulary is never sorted, and nothing is allocated once the buffers have grown.
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace fm {

struct SamplingParams {
  float temperature = 0.8f;  // <= 0 means greedy
  int top_k = 40;            // <= 0 disables
  float top_p = 0.95f;       // >= 1 disables
  float min_p = 0.05f;       // <= 0 disables
  uint64_t seed = 0xF00D;
};

// Index of the largest logit; the lowest index wins a tie.
int32_t argmax(const float* logits, int64_t n);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  int32_t sample(const float* logits, int64_t n_vocab);

 private:
  int32_t draw_unfiltered(const float* logits, int64_t n_vocab, float max_logit);

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // reused across calls
  std::vector<float> weights_;                         // [n_vocab], reused across calls
};

}  // namespace fm
