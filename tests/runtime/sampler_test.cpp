#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "runtime/sampler.h"

namespace fm {
namespace {

TEST(Sampler, ArgmaxPrefersTheLowestIdOnTies) {
  const float logits[] = {0.f, 2.f, 1.f, 2.f};
  EXPECT_EQ(argmax(logits, 4), 1);
}

TEST(Sampler, ZeroTemperatureIsGreedy) {
  const float logits[] = {0.1f, 0.3f, 3.f, -1.f};
  Sampler s({0.f, 40, 0.95f, 0.05f, 1});
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.sample(logits, 4), 2);
}

TEST(Sampler, TopKOfOneIsGreedy) {
  const float logits[] = {0.1f, 1.5f, 1.4f, -1.f};
  Sampler s({1.5f, 1, 1.f, 0.f, 9});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.sample(logits, 4), 1);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDifferentSequence) {
  std::vector<float> logits(64);
  for (int i = 0; i < 64; ++i) logits[i] = std::sin(static_cast<float>(i));
  auto run = [&](uint64_t seed) {
    Sampler s({1.f, 0, 1.f, 0.f, seed});
    std::vector<int32_t> out;
    for (int i = 0; i < 40; ++i) out.push_back(s.sample(logits.data(), 64));
    return out;
  };
  EXPECT_EQ(run(5), run(5));
  EXPECT_NE(run(5), run(6));
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  const float logits[] = {0.f, std::log(2.f), std::log(4.f)};  // probabilities 1/7, 2/7, 4/7
  Sampler s({1.f, 0, 1.f, 0.f, 123});
  std::map<int32_t, int> counts;
  const int n = 70000;
  for (int i = 0; i < n; ++i) counts[s.sample(logits, 3)]++;
  EXPECT_NEAR(counts[0] / double(n), 1 / 7.0, 0.01);
  EXPECT_NEAR(counts[1] / double(n), 2 / 7.0, 0.01);
  EXPECT_NEAR(counts[2] / double(n), 4 / 7.0, 0.01);
}

TEST(Sampler, TopPAndMinPCutTheTail) {
  const float logits[] = {5.f, 4.9f, 0.f, -1.f};
  Sampler top_p({1.f, 0, 0.5f, 0.f, 3});
  Sampler min_p({1.f, 0, 1.f, 0.5f, 3});
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(top_p.sample(logits, 4), 0);  // the first token alone reaches 50 %
    EXPECT_LE(min_p.sample(logits, 4), 1);  // p(2) / p(0) = e^-5 < 0.5
  }
}

// The kept candidates as the definition reads: sort the whole vocabulary, cut to top-k, then to the shortest prefix
// holding top_p of the mass (over what top-k kept), then to p >= min_p * p_max.
std::set<int32_t> reference_kept(const std::vector<float>& logits, const SamplingParams& p) {
  std::vector<std::pair<float, int32_t>> c;
  for (size_t i = 0; i < logits.size(); ++i) c.emplace_back(logits[i], static_cast<int32_t>(i));
  std::sort(c.begin(), c.end(), [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < c.size()) c.resize(static_cast<size_t>(p.top_k));
  const float max_logit = c.front().first;
  double total = 0;
  for (const auto& x : c) total += std::exp(static_cast<double>(x.first - max_logit));
  if (p.top_p < 1.f) {
    double cumulative = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      cumulative += std::exp(static_cast<double>(c[i].first - max_logit)) / total;
      if (cumulative >= p.top_p) {
        c.resize(i + 1);
        break;
      }
    }
  }
  std::set<int32_t> kept;
  for (const auto& x : c)
    if (p.min_p <= 0.f || x.first >= max_logit + std::log(p.min_p)) kept.insert(x.second);
  return kept;
}

TEST(Sampler, KeepsWhatSortingTheWholeVocabularyKeeps) {
  std::mt19937 rng(7);
  std::vector<float> peaked(16384), flat(16384);
  for (auto& v : peaked) v = 3.f * std::normal_distribution<float>(0, 1)(rng);
  for (auto& v : flat) v = 0.05f * std::normal_distribution<float>(0, 1)(rng);
  struct Case {
    const std::vector<float>* logits;
    SamplingParams params;
  };
  const Case cases[] = {
      {&peaked, {1.f, 20, 1.f, 0.f, 1}},     {&peaked, {1.f, 0, 0.5f, 0.f, 2}},    {&peaked, {1.f, 0, 1.f, 0.1f, 3}},  {&peaked, {0.7f, 0, 1.f, 0.f, 8}},
      {&peaked, {1.f, 50, 0.9f, 0.05f, 4}},  {&peaked, {1.f, 0, 0.9f, 0.02f, 5}},  {&flat, {1.f, 0, 0.01f, 0.f, 6}},
      {&flat, {1.f, 3000, 0.02f, 0.f, 7}},
  };
  for (const Case& c : cases) {
    const std::set<int32_t> kept = reference_kept(*c.logits, c.params);
    ASSERT_FALSE(kept.empty());
    const bool filtered = c.params.top_k > 0 || c.params.top_p < 1.f || c.params.min_p > 0.f;
    if (filtered) {
      ASSERT_LT(kept.size(), c.logits->size());  // every filtered case cuts something
    }
    Sampler s(c.params);
    std::map<int32_t, int> seen;
    const int draws = 1000;
    for (int i = 0; i < draws; ++i) {
      const int32_t t = s.sample(c.logits->data(), static_cast<int64_t>(c.logits->size()));
      ASSERT_TRUE(kept.count(t)) << "token " << t << " is outside the kept set (top_k " << c.params.top_k << ", top_p "
                                 << c.params.top_p << ", min_p " << c.params.min_p << ")";
      ++seen[t];
    }
    // Every kept token with at least 2 % of the kept mass (at the sampling temperature) shows up.
    const float max_logit = *std::max_element(c.logits->begin(), c.logits->end());
    auto weight = [&](int32_t t) {
      return std::exp(static_cast<double>((*c.logits)[static_cast<size_t>(t)] - max_logit) / c.params.temperature);
    };
    double total = 0;
    for (int32_t t : kept) total += weight(t);
    for (int32_t t : kept) {
      if (weight(t) / total >= 0.02) {
        EXPECT_GT(seen[t], 0) << "token " << t;
      }
    }
  }
}

}  // namespace
}  // namespace fm
