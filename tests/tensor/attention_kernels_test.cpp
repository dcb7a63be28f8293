// Attention kernels of every table against the scalar reference: key scores, softmax (with and without the f16
// rounding of the weights) and weighted value sums, for f32 and f16 cache rows and widths that do and do not
// fill whole SIMD registers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "tensor/fp16.h"
#include "tensor/kernels/kernel_table.h"

namespace fm {
namespace {

struct Rows {
  std::vector<uint8_t> bytes;
  size_t stride;
};

Rows random_rows(bool f16, int64_t n, int64_t dim, int64_t pad, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.f, 1.f);
  const size_t elem = f16 ? 2 : 4;
  Rows r{std::vector<uint8_t>(static_cast<size_t>(n * (dim + pad)) * elem), static_cast<size_t>(dim + pad) * elem};
  for (int64_t j = 0; j < n; ++j)
    for (int64_t d = 0; d < dim + pad; ++d) {
      uint8_t* p = r.bytes.data() + j * r.stride + d * elem;
      if (f16) {
        const uint16_t h = fp32_to_fp16(dist(rng));
        std::memcpy(p, &h, 2);
      } else {
        const float v = dist(rng);
        std::memcpy(p, &v, 4);
      }
    }
  return r;
}

TEST(AttentionKernels, EveryTableMatchesScalar) {
  const KernelTable& s = scalar_kernels();
  std::mt19937 rng(21);
  std::normal_distribution<float> dist(0.f, 1.f);
  for (const KernelTable* table : available_kernels()) {
    for (bool f16 : {false, true}) {
      // A decoder's query group over a short cache, and an encoder's block of queries over keys that span several
      // 8-key and 128-key chunks with a remainder.
      for (const auto& [n_q, n_keys] : {std::pair<int64_t, int64_t>{7, 45}, {21, 300}})
      for (int64_t dim : {16, 64, 80, 128, 36}) {
        const int64_t ld = n_keys + 5;
        const Rows keys = random_rows(f16, n_keys, dim, 8, rng), values = random_rows(f16, n_keys, dim, 8, rng);
        std::vector<float> q(n_q * dim);
        for (auto& v : q) v = dist(rng);
        std::vector<float> ref(n_q * ld, 0.f), got(n_q * ld, 0.f);
        (f16 ? s.key_scores_f16 : s.key_scores_f32)(q.data(), n_q, dim, keys.bytes.data(), keys.stride, n_keys, 0.125f,
                                                    ref.data(), ld);
        (f16 ? table->key_scores_f16 : table->key_scores_f32)(q.data(), n_q, dim, keys.bytes.data(), keys.stride, n_keys,
                                                              0.125f, got.data(), ld);
        for (int64_t i = 0; i < n_q; ++i)
          for (int64_t j = 0; j < n_keys; ++j)
            ASSERT_NEAR(got[i * ld + j], ref[i * ld + j], 1e-5f * dim) << table->name << " dim=" << dim;

        for (int64_t i = 0; i < n_q; ++i) {
          s.softmax(ref.data() + i * ld, n_keys, f16);
          table->softmax(got.data() + i * ld, n_keys, f16);
          float total = 0;
          for (int64_t j = 0; j < n_keys; ++j) {
            // f16 rounding of the weights may flip one step where the inputs differ in the last bit.
            ASSERT_NEAR(got[i * ld + j], ref[i * ld + j], 2e-6f + (f16 ? 1e-3f * ref[i * ld + j] : 0.f)) << table->name;
            total += ref[i * ld + j];
          }
          EXPECT_NEAR(total, 1.f, f16 ? 1e-2f : 1e-5f);
        }

        std::vector<float> out_ref(n_q * dim, 1.f), out_got(n_q * dim, 1.f);  // the kernels accumulate
        (f16 ? s.value_sum_f16 : s.value_sum_f32)(ref.data(), n_q, ld, values.bytes.data(), values.stride, n_keys, dim,
                                                  out_ref.data(), dim);
        (f16 ? table->value_sum_f16 : table->value_sum_f32)(ref.data(), n_q, ld, values.bytes.data(), values.stride,
                                                            n_keys, dim, out_got.data(), dim);
        for (int64_t i = 0; i < n_q * dim; ++i) ASSERT_NEAR(out_got[i], out_ref[i], 1e-5f) << table->name << " dim=" << dim;
      }
    }
  }
}

TEST(ActivationKernels, SwigluOfEveryTableMatchesScalar) {
  std::mt19937 rng(4);
  std::normal_distribution<float> dist(0.f, 4.f);
  for (int64_t n : {1, 15, 16, 100, 4864}) {
    std::vector<float> g(n), u(n), ref(n), got(n);
    for (auto& v : g) v = dist(rng);
    for (auto& v : u) v = dist(rng);
    g[0] = -100.f;  // exp(100) overflows the float range: silu is -0
    scalar_kernels().swiglu(g.data(), u.data(), n, ref.data());
    for (const KernelTable* table : available_kernels()) {
      table->swiglu(g.data(), u.data(), n, got.data());
      for (int64_t i = 0; i < n; ++i)
        ASSERT_NEAR(got[i], ref[i], 2e-6f * std::fabs(ref[i]) + 1e-30f) << table->name << " i=" << i;
    }
  }
}

// The sampler's weights: every target within float rounding of exp, masked logits (-inf) and NaN exactly 0, the sum
// that of the weights, over a vocabulary-sized row at two temperatures.
TEST(SamplingKernels, ExpWeightsOfEveryTableMatchExp) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.f, 3.f);
  for (int64_t n : {1, 7, 8, 4095, 4097, 151936}) {
    std::vector<float> x(static_cast<size_t>(n)), got(static_cast<size_t>(n));
    for (auto& v : x) v = dist(rng);
    if (n > 3) x[1] = -INFINITY, x[2] = std::nanf(""), x[3] = -200.f;
    float max = -INFINITY;
    for (float v : x) max = v > max ? v : max;  // NaN never wins
    for (float scale : {1.f, 1.f / 0.7f}) {
      for (const KernelTable* table : available_kernels()) {
        const double sum = table->exp_weights(x.data(), n, max, scale, got.data());
        double want_sum = 0;
        for (int64_t i = 0; i < n; ++i) {
          const float z = (x[static_cast<size_t>(i)] - max) * scale;
          const double want = std::isnan(z) || z < -87.3f ? 0.0 : std::exp(static_cast<double>(z));
          want_sum += want;
          if (want == 0.0) ASSERT_EQ(got[static_cast<size_t>(i)], 0.f) << table->name << " i=" << i;
          else ASSERT_NEAR(got[static_cast<size_t>(i)], want, 4e-7 * want) << table->name << " i=" << i;
        }
        EXPECT_NEAR(sum, want_sum, 1e-6 * want_sum) << table->name << " n=" << n;
      }
    }
  }
}

// GELU through ggml's f16 table: every target bit-identical to the scalar reference, over every f16 input value
// (each one exactly, and just off it, where rounding to f16 decides the entry) and the |x| >= 10 shortcuts.
TEST(AttentionKernels, GeluTableMatchesTheScalarReferenceBitForBit) {
  std::vector<float> x;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float v = fp16_to_fp32(static_cast<uint16_t>(h));
    if (!std::isfinite(v)) continue;
    x.push_back(v);
    x.push_back(std::nextafter(v, 1e9f));
  }
  for (float v : {-10.f, 10.f, -10.5f, 12.f, -1e6f, 1e6f, 0.f, -0.f}) x.push_back(v);
  const int64_t n = static_cast<int64_t>(x.size()) - 3;  // an odd length: the masked tail runs too
  std::vector<float> ref(x.size()), got(x.size());
  scalar_kernels().gelu(x.data(), n, ref.data());
  for (const KernelTable* table : available_kernels()) {
    table->gelu(x.data(), n, got.data());
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(float_to_bits(got[i]), float_to_bits(ref[i])) << table->name << " x=" << x[i];
  }
}

TEST(AttentionKernels, SoftmaxOfALongRowWithAnOutlier) {
  for (const KernelTable* table : available_kernels()) {
    std::vector<float> x(1000);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) * 0.25f;
    x[500] = 90.f;  // the others underflow to ~0
    table->softmax(x.data(), static_cast<int64_t>(x.size()), false);
    EXPECT_NEAR(x[500], 1.f, 1e-6f) << table->name;
    EXPECT_LT(x[0], 1e-30f) << table->name;
  }
}

}  // namespace
}  // namespace fm
