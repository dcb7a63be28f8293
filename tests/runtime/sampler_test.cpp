#include <gtest/gtest.h>

#include <cmath>
#include <map>

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

}  // namespace
}  // namespace fm
