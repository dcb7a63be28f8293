#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

namespace fm {

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

int32_t Sampler::sample(const float* logits, int64_t n_vocab) {
  if (params_.temperature <= 0.f) return argmax(logits, n_vocab);

  candidates_.clear();
  for (int64_t i = 0; i < n_vocab; ++i) candidates_.emplace_back(logits[i], static_cast<int32_t>(i));
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t keep = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) {
    keep = static_cast<size_t>(params_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep), candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(keep);

  // Probabilities at temperature 1 decide the top-p and min-p cut-offs.
  const float max_logit = candidates_.front().first;
  double total = 0;
  for (const auto& c : candidates_) total += std::exp(static_cast<double>(c.first - max_logit));
  if (params_.top_p < 1.f) {
    double cumulative = 0;
    size_t cut = candidates_.size();
    for (size_t i = 0; i < candidates_.size(); ++i) {
      cumulative += std::exp(static_cast<double>(candidates_[i].first - max_logit)) / total;
      if (cumulative >= params_.top_p) {
        cut = i + 1;
        break;
      }
    }
    candidates_.resize(cut);
  }
  if (params_.min_p > 0.f) {
    // p_i >= min_p * p_max  <=>  logit_i >= max_logit + ln(min_p)
    const float threshold = max_logit + std::log(params_.min_p);
    size_t cut = 1;
    while (cut < candidates_.size() && candidates_[cut].first >= threshold) ++cut;
    candidates_.resize(cut);
  }

  double sum = 0;
  for (auto& c : candidates_) {
    c.first = static_cast<float>(std::exp(static_cast<double>(c.first - max_logit) / params_.temperature));
    sum += c.first;
  }
  if (!(sum > 0) || !std::isfinite(sum)) return candidates_.front().second;  // non-finite logits: best candidate
  std::uniform_real_distribution<double> uniform(0.0, sum);
  double r = uniform(rng_);
  int32_t last_possible = candidates_.front().second;
  for (const auto& c : candidates_) {
    if (!(c.first > 0)) continue;  // masked out (structured output) or underflowed
    last_possible = c.second;
    r -= c.first;
    if (r <= 0) return c.second;
  }
  return last_possible;
}

}  // namespace fm
