#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

#include "tensor/kernels/kernel_table.h"

namespace fm {

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

namespace {

// Higher logit first; the lower id wins a tie (a total order, so the kept set and its order are well defined).
bool by_logit(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

}  // namespace

// Cost per token is O(vocabulary) plus sorting what the filters keep: no sort of the whole vocabulary. The kept
// candidates are those that sorting the whole vocabulary and cutting it (top-k, then top-p, then min-p) keeps.
int32_t Sampler::sample(const float* logits, int64_t n_vocab) {
  if (params_.temperature <= 0.f) return argmax(logits, n_vocab);
  const float max_logit = logits[argmax(logits, n_vocab)];

  const bool top_k = params_.top_k > 0 && params_.top_k < n_vocab;
  const bool top_p = params_.top_p < 1.f;
  const bool min_p = params_.min_p > 0.f;
  if (!top_k && !top_p && !min_p) return draw_unfiltered(logits, n_vocab, max_logit);

  candidates_.clear();
  // min-p keeps p_i >= min_p * p_max, i.e. logit_i >= max_logit + ln(min_p): a test on each logit, no order needed.
  // Without top-k it filters first (top-p's mass is over the whole vocabulary either way); with top-k it comes last,
  // because top-p's mass is over what top-k kept.
  const float min_logit = min_p ? max_logit + std::log(params_.min_p) : -INFINITY;
  const bool min_p_first = min_p && !top_k;
  for (int64_t i = 0; i < n_vocab; ++i)
    if (!min_p_first || !(logits[i] < min_logit)) candidates_.emplace_back(logits[i], static_cast<int32_t>(i));
  if (candidates_.empty()) return argmax(logits, n_vocab);

  if (top_k && candidates_.size() > static_cast<size_t>(params_.top_k)) {
    const auto kth = candidates_.begin() + params_.top_k;
    std::nth_element(candidates_.begin(), kth, candidates_.end(), by_logit);
    candidates_.resize(static_cast<size_t>(params_.top_k));
  }

  if (top_p) {
    // The probabilities (at temperature 1) are normalised over what top-k kept, or over the whole vocabulary.
    double total = 0;
    if (top_k) {
      for (const auto& c : candidates_) total += std::exp(c.first - max_logit);
    } else {
      weights_.resize(static_cast<size_t>(n_vocab));
      total = best_kernels().exp_weights(logits, n_vocab, max_logit, 1.f, weights_.data());
    }
    // Sort a growing prefix until it holds top_p of the mass: a peaked distribution sorts a few hundred entries.
    size_t sorted = 0, cut = candidates_.size();
    double cumulative = 0;
    for (size_t want = 256; sorted < candidates_.size() && cut == candidates_.size(); want *= 4) {
      const auto end = candidates_.begin() + static_cast<std::ptrdiff_t>(std::min(want, candidates_.size()));
      std::partial_sort(candidates_.begin() + static_cast<std::ptrdiff_t>(sorted), end, candidates_.end(), by_logit);
      const size_t now = static_cast<size_t>(end - candidates_.begin());
      for (; sorted < now; ++sorted) {
        cumulative += std::exp(candidates_[sorted].first - max_logit) / total;
        if (cumulative >= params_.top_p) {
          cut = sorted + 1;
          break;
        }
      }
    }
    candidates_.resize(cut);
  }
  if (min_p && !min_p_first) {
    std::erase_if(candidates_, [&](const auto& c) { return c.first < min_logit; });
    if (candidates_.empty()) return argmax(logits, n_vocab);
  }
  // The draw walks the kept candidates in id order, so a seed picks the same token however they were selected (the
  // unfiltered vocabulary is in id order already: no sort at all at the API's defaults).
  if (top_k || top_p) std::sort(candidates_.begin(), candidates_.end(), [](const auto& a, const auto& b) { return a.second < b.second; });

  const float inv_temperature = 1.f / params_.temperature;
  double sum = 0;
  for (auto& c : candidates_) {
    c.first = std::exp((c.first - max_logit) * inv_temperature);
    sum += c.first;
  }
  if (!(sum > 0) || !std::isfinite(sum)) return argmax(logits, n_vocab);  // non-finite logits: the best token
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

// The API's defaults (no top-k, top-p or min-p): every token's weight in id order, one draw; nothing is sorted.
int32_t Sampler::draw_unfiltered(const float* logits, int64_t n_vocab, float max_logit) {
  weights_.resize(static_cast<size_t>(n_vocab));
  // One vectorised pass (the vocabulary is ~150k entries: a scalar exp per entry was 4 % of a decode step).
  const double sum = best_kernels().exp_weights(logits, n_vocab, max_logit, 1.f / params_.temperature, weights_.data());
  if (!(sum > 0) || !std::isfinite(sum)) return argmax(logits, n_vocab);
  std::uniform_real_distribution<double> uniform(0.0, sum);
  double r = uniform(rng_);
  int32_t last_possible = argmax(logits, n_vocab);
  for (int64_t i = 0; i < n_vocab; ++i) {
    const float w = weights_[static_cast<size_t>(i)];
    if (!(w > 0)) continue;  // masked out (structured output) or underflowed
    last_possible = static_cast<int32_t>(i);
    r -= w;
    if (r <= 0) return last_possible;
  }
  return last_possible;
}

}  // namespace fm
