#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model/blocks.h"
#include "model/kv_cache.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm {
namespace {

std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(Rope, RotationPreservesNormAndPositionZeroIsIdentity) {
  for (RopeLayout layout : {RopeLayout::kAdjacentPairs, RopeLayout::kHalfSplit}) {
    Rope rope(layout, 64, 64, 10000.f);
    std::vector<float> x = random_vec(2 * 64, 1), y = x;
    rope.apply(y.data(), 1, 2, 0);
    EXPECT_EQ(x, y);
    rope.apply(y.data(), 1, 2, 37);
    double nx = 0, ny = 0;
    for (size_t i = 0; i < x.size(); ++i) nx += x[i] * x[i], ny += y[i] * y[i];
    EXPECT_NEAR(nx, ny, 1e-3 * nx);
    EXPECT_NE(x, y);
  }
}

TEST(Rope, LinearScalingIsPositionDivision) {
  RopeScaling linear;
  linear.kind = RopeScaling::Kind::kLinear;
  linear.factor = 4.f;
  Rope scaled(RopeLayout::kHalfSplit, 32, 32, 10000.f, linear), plain(RopeLayout::kHalfSplit, 32, 32, 10000.f);
  std::vector<float> a = random_vec(32, 2), b = a;
  scaled.apply(a.data(), 1, 1, 40);
  plain.apply(b.data(), 1, 1, 10);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5);
}

TEST(Rope, FrequencyFactorsDivideFrequencies) {
  std::vector<float> factors(16, 2.f);
  Rope with(RopeLayout::kAdjacentPairs, 32, 32, 500000.f, {}, factors.data()), plain(RopeLayout::kAdjacentPairs, 32, 32, 500000.f);
  std::vector<float> a = random_vec(32, 3), b = a;
  with.apply(a.data(), 1, 1, 18);
  plain.apply(b.data(), 1, 1, 9);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5);
}

TEST(Rope, YarnKeepsFastDimensionsAndInterpolatesSlowOnes) {
  RopeScaling yarn;
  yarn.kind = RopeScaling::Kind::kYarn;
  yarn.factor = 4.f;
  yarn.original_context = 4096;
  const int64_t n_rot = 128;
  Rope scaled(RopeLayout::kHalfSplit, n_rot, n_rot, 10000.f, yarn), plain(RopeLayout::kHalfSplit, n_rot, n_rot, 10000.f),
      linear_ref(RopeLayout::kHalfSplit, n_rot, n_rot, 10000.f);
  const double mscale = 1.0 + 0.1 * std::log(4.0);
  // One unit vector per pair: pair i lives in dims (i, i + 64).
  for (int64_t i : {0, 1, 63}) {
    std::vector<float> a(n_rot, 0.f), b(n_rot, 0.f);
    a[i] = b[i] = 1.f;
    scaled.apply(a.data(), 1, 1, 1000);
    if (i < 10) plain.apply(b.data(), 1, 1, 1000);  // fast dimensions: unchanged frequency
    else linear_ref.apply(b.data(), 1, 1, 250);     // slow dimensions: position / factor
    EXPECT_NEAR(a[i], b[i] * mscale, 1e-3) << i;
    EXPECT_NEAR(a[i + 64], b[i + 64] * mscale, 1e-3) << i;
  }
}

TEST(Attention, SlidingWindowSeesOnlyTheLastWindowKeys) {
  const int64_t head_dim = 8, n_tok = 12, window = 4;
  ThreadPool pool(2);
  ScratchBuffer scratch;
  Compute c{&pool, &scalar_kernels(), &scratch};
  const AttentionShape full{1, 1, head_dim, head_dim, 0.5f, 0}, local{1, 1, head_dim, head_dim, 0.5f, window};
  KvCache cache(1, n_tok, head_dim, head_dim, TensorType::F32), ring(1, n_tok, head_dim, head_dim, TensorType::F32,
                                                                      {window});
  std::vector<float> k = random_vec(n_tok * head_dim, 4), v = random_vec(n_tok * head_dim, 5), q = random_vec(head_dim, 6);
  std::vector<float> scores(2 * attention_scratch_floats(full, n_tok)), out_full(head_dim), out_local(head_dim), out_ring(head_dim);
  for (int64_t p = 0; p < n_tok; ++p) {
    cache.store(0, p, k.data() + p * head_dim, v.data() + p * head_dim);
    ring.store(0, p, k.data() + p * head_dim, v.data() + p * head_dim);
  }
  // The last query attends over keys [n_tok - window, n_tok); the ring keeps only those rows.
  attention(c, local, q.data(), cache, 0, n_tok - 1, 1, scores.data(), out_local.data());
  attention(c, local, q.data(), ring, 0, n_tok - 1, 1, scores.data(), out_ring.data());
  attention(c, full, q.data(), cache, 0, n_tok - 1, 1, scores.data(), out_full.data());
  EXPECT_EQ(out_local, out_ring);
  EXPECT_NE(out_local, out_full);
  std::vector<float> manual(head_dim, 0.f);
  double sum = 0;
  std::vector<double> w(window);
  for (int64_t j = 0; j < window; ++j) {
    double dot = 0;
    for (int64_t d = 0; d < head_dim; ++d) dot += q[d] * k[(n_tok - window + j) * head_dim + d];
    w[j] = std::exp(0.5 * dot);
    sum += w[j];
  }
  for (int64_t j = 0; j < window; ++j)
    for (int64_t d = 0; d < head_dim; ++d) manual[d] += static_cast<float>(w[j] / sum) * v[(n_tok - window + j) * head_dim + d];
  for (int64_t d = 0; d < head_dim; ++d) EXPECT_NEAR(out_local[d], manual[d], 1e-5);
}

}  // namespace
}  // namespace fm
