// One harness for every kernel: each SIMD table's dot products against the scalar reference, and the scalar
// dot products against float math on the dequantized operands, for every supported weight type.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tensor/fp16.h"
#include "tensor/kernels/cpu_features.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/matmul.h"
#include "tensor/quant_blocks.h"
#include "tensor/thread_pool.h"
#include "support/random_tensors.h"

namespace fm {
namespace {

const TensorType kWeightTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0,
                                   TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
                                   TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

class KernelHarness : public ::testing::TestWithParam<TensorType> {};

TEST_P(KernelHarness, ScalarDotMatchesFloatMathOnDequantizedOperands) {
  const TensorType type = GetParam();
  const KernelTable& s = scalar_kernels();
  const TensorType act_type = vec_dot_type(type);
  std::mt19937 rng(42);
  for (int64_t n : {256, 512, 1024}) {
    std::vector<uint8_t> w = random_row(type, n, rng);
    std::vector<float> x = random_activations(n, rng);
    std::vector<uint8_t> act(tensor_row_bytes(act_type, n));
    s.quantize_fn(act_type)(x.data(), act.data(), n);
    std::vector<float> wf(n), af(n);
    s.dequantize_fn(type)(w.data(), wf.data(), n);
    s.dequantize_fn(act_type)(act.data(), af.data(), n);
    double expect = 0, magnitude = 0;
    for (int64_t i = 0; i < n; ++i) {
      expect += static_cast<double>(wf[i]) * af[i];
      magnitude += std::fabs(static_cast<double>(wf[i]) * af[i]);
    }
    const float got = s.vec_dot_fn(type)(n, w.data(), act.data());
    // Q4_1/Q5_1 use the activation block sum s stored as fp16, which rounds by up to 2^-11 relative.
    const double tol = 1e-5 * magnitude + (act_type == TensorType::Q8_1 ? 2e-3 * magnitude : 0) + 1e-6;
    EXPECT_NEAR(got, expect, tol) << tensor_type_name(type) << " n=" << n;
  }
}

TEST_P(KernelHarness, EverySimdTableMatchesScalar) {
  const TensorType type = GetParam();
  const KernelTable& s = scalar_kernels();
  const TensorType act_type = vec_dot_type(type);
  std::mt19937 rng(7);
  for (const KernelTable* table : available_kernels()) {
    for (int64_t n : {256, 768, 4096}) {
      for (int rep = 0; rep < 20; ++rep) {
        std::vector<uint8_t> w = random_row(type, n, rng);
        std::vector<float> x = random_activations(n, rng);
        std::vector<uint8_t> act(tensor_row_bytes(act_type, n)), act_simd(act.size());
        s.quantize_fn(act_type)(x.data(), act.data(), n);
        table->quantize_fn(act_type)(x.data(), act_simd.data(), n);
        ASSERT_EQ(act, act_simd) << table->name << " quantizes " << tensor_type_name(act_type) << " differently";
        std::vector<float> wf(n), wf_simd(n);
        s.dequantize_fn(type)(w.data(), wf.data(), n);
        table->dequantize_fn(type)(w.data(), wf_simd.data(), n);
        ASSERT_EQ(wf, wf_simd) << table->name << " dequantizes " << tensor_type_name(type) << " differently";
        double magnitude = 0;
        for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(wf[i] * x[i]);
        const float ref = s.vec_dot_fn(type)(n, w.data(), act.data());
        const float got = table->vec_dot_fn(type)(n, w.data(), act.data());
        EXPECT_NEAR(got, ref, 2e-6 * magnitude + 1e-6) << table->name << " " << tensor_type_name(type) << " n=" << n;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, KernelHarness, ::testing::ValuesIn(kWeightTypes),
                         [](const auto& info) { return std::string(tensor_type_name(info.param)); });

TEST(KernelTables, SimdTargetsAreAvailableOnThisCpu) {
  std::vector<std::string> names;
  for (const KernelTable* t : available_kernels()) names.push_back(t->name);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names[0], "scalar");
  if (cpu_features().avx2) {
    EXPECT_GE(names.size(), 2u);
  }
}

TEST(Quantize, Q8BlocksReconstructWithinHalfAStep) {
  std::mt19937 rng(3);
  std::vector<float> x = random_activations(512, rng);
  for (TensorType t : {TensorType::Q8_0, TensorType::Q8_1, TensorType::Q8_K}) {
    std::vector<uint8_t> q(tensor_row_bytes(t, 512));
    std::vector<float> back(512);
    scalar_kernels().quantize_fn(t)(x.data(), q.data(), 512);
    scalar_kernels().dequantize_fn(t)(q.data(), back.data(), 512);
    const int block = t == TensorType::Q8_K ? 256 : 32;
    for (int b = 0; b < 512 / block; ++b) {
      float amax = 0;
      for (int i = 0; i < block; ++i) amax = std::max(amax, std::fabs(x[b * block + i]));
      for (int i = 0; i < block; ++i)
        EXPECT_NEAR(back[b * block + i], x[b * block + i], amax / 127.f * 0.51f + amax * 1e-3f) << tensor_type_name(t);
    }
  }
}

TEST(Matmul, ThreadedProductEqualsRowByRowDots) {
  std::mt19937 rng(11);
  const int64_t n_cols = 512, n_rows = 37, n_tok = 5;
  for (TensorType type : kWeightTypes) {
    std::vector<uint8_t> data;
    for (int64_t r = 0; r < n_rows; ++r) {
      auto row = random_row(type, n_cols, rng);
      data.insert(data.end(), row.begin(), row.end());
    }
    MatrixView w{type, n_cols, n_rows, data.data(), tensor_row_bytes(type, n_cols)};
    std::vector<float> x(n_tok * n_cols);
    for (auto& v : x) v = std::normal_distribution<float>(0, 1)(rng);
    ThreadPool pool(2);
    ScratchBuffer scratch;
    Compute c{&pool, &best_kernels(), &scratch};
    std::vector<float> y(n_tok * n_rows);
    matmul(c, w, x.data(), n_tok, y.data());
    const TensorType act_type = vec_dot_type(type);
    std::vector<uint8_t> act(tensor_row_bytes(act_type, n_cols));
    const bool f16_gemm = type == TensorType::F16 && best_kernels().f16_gemm;
    for (int64_t t = 0; t < n_tok; ++t) {
      best_kernels().quantize_fn(act_type)(x.data() + t * n_cols, act.data(), n_cols);
      for (int64_t r = 0; r < n_rows; ++r) {
        const float dot = best_kernels().vec_dot_fn(type)(n_cols, w.row(r), act.data());
        if (!f16_gemm) {
          EXPECT_EQ(y[t * n_rows + r], dot) << tensor_type_name(type) << " t=" << t << " r=" << r;
          continue;
        }
        // The register-blocked F16 kernel sums in its own order: equal to its own single-row, single-token product
        // (blocking changes nothing) and to the dot within rounding.
        std::vector<float> rounded(n_cols);
        best_kernels().dequantize_fn(TensorType::F16)(act.data(), rounded.data(), n_cols);
        std::vector<float> one(n_rows, 0.f);  // output row of one token; the kernel writes column r
        best_kernels().f16_gemm(w.data, w.row_bytes, r, r + 1, n_cols, rounded.data(), 1, one.data(), n_rows);
        const float single = one[r];
        EXPECT_EQ(y[t * n_rows + r], single) << "F16 t=" << t << " r=" << r;
        EXPECT_NEAR(y[t * n_rows + r], dot, 1e-5f * (1.f + std::fabs(dot))) << "F16 t=" << t << " r=" << r;
      }
    }
  }
}

}  // namespace
}  // namespace fm

namespace fm {
namespace {

// Weight quantizers (model synthesis): dequantize(quantize(x)) stays within the format's step of x.
TEST(WeightQuantizers, RoundTripWithinOneStep) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.f, 0.02f);
  std::vector<float> x(4096);
  for (auto& v : x) v = dist(rng);
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  const struct {
    TensorType type;
    float steps;  // quantization levels over [-amax, amax]
  } cases[] = {{TensorType::Q4_0, 8}, {TensorType::Q5_0, 16}, {TensorType::Q8_0, 127}, {TensorType::Q4_K, 7.5f}, {TensorType::Q6_K, 32}};
  for (const auto& c : cases) {
    std::vector<uint8_t> q(tensor_row_bytes(c.type, 4096));
    std::vector<float> back(4096);
    scalar_kernels().quantize_fn(c.type)(x.data(), q.data(), 4096);
    scalar_kernels().dequantize_fn(c.type)(q.data(), back.data(), 4096);
    double err = 0, ref = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      err += (back[i] - x[i]) * (back[i] - x[i]);
      ref += x[i] * x[i];
    }
    EXPECT_LT(std::sqrt(err / ref), 1.2 / c.steps) << tensor_type_name(c.type);
    // The SIMD kernels agree with the scalar ones on these blocks too.
    for (const KernelTable* t : available_kernels()) {
      std::vector<float> simd(4096);
      t->dequantize_fn(c.type)(q.data(), simd.data(), 4096);
      EXPECT_EQ(simd, back) << t->name << " " << tensor_type_name(c.type);
    }
  }
}

}  // namespace
}  // namespace fm

namespace fm {
namespace {

// Activation quantizers of every table equal the scalar ones on awkward rows: zeros, NaN and infinities, halfway
// values, and a maximum magnitude that occurs with both signs.
TEST(Quantize, EveryTableMatchesScalarOnSpecialValues) {
  std::vector<std::vector<float>> rows;
  rows.push_back(std::vector<float>(512, 0.f));
  std::vector<float> halves(512);
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = (static_cast<float>(i % 64) - 31.5f) * (i % 3 ? 1.f : -1.f);
  rows.push_back(halves);
  std::vector<float> specials = halves;
  specials[5] = NAN;
  specials[300] = INFINITY;
  specials[40] = -INFINITY;
  rows.push_back(specials);
  std::vector<float> both_signs(512, 0.25f);
  both_signs[7] = -3.f;
  both_signs[9] = 3.f;
  both_signs[260] = 3.f;
  both_signs[261] = -3.f;
  rows.push_back(both_signs);
  for (const KernelTable* table : available_kernels()) {
    for (TensorType t : {TensorType::Q8_0, TensorType::Q8_K}) {
      for (const auto& x : rows) {
        std::vector<uint8_t> ref(tensor_row_bytes(t, 512)), got(ref.size());
        scalar_kernels().quantize_fn(t)(x.data(), ref.data(), 512);
        table->quantize_fn(t)(x.data(), got.data(), 512);
        EXPECT_EQ(ref, got) << table->name << " " << tensor_type_name(t);
      }
    }
  }
}

}  // namespace
}  // namespace fm

namespace fm {
namespace {

// The convolution kernel: every target's result equals the scalar reference bit for bit (one FMA chain per output,
// columns in order), for full and partial panels and token counts that leave remainders.
TEST(Kernels, F16PanelGemmMatchesTheScalarReferenceExactly) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.f, 1.f);
  for (const int64_t n_cols : {int64_t{9}, int64_t{36}, int64_t{1152}}) {
    for (const int rows : {16, 3}) {
      std::vector<uint16_t> panel(static_cast<size_t>(n_cols * kPanelRows), 0);
      for (int64_t k = 0; k < n_cols; ++k)
        for (int r = 0; r < rows; ++r) panel[static_cast<size_t>(k * kPanelRows + r)] = fp32_to_fp16(dist(rng) * 0.1f);
      const int64_t n_tok = 13, ldy = 20;
      std::vector<float> x(static_cast<size_t>(n_tok * n_cols));
      for (float& v : x) v = fp16_to_fp32(fp32_to_fp16(dist(rng)));
      std::vector<float> want(static_cast<size_t>(n_tok * ldy), -1.f);
      scalar_kernels().f16_panel_gemm(panel.data(), n_cols, rows, x.data(), n_cols, n_tok, want.data(), ldy);
      for (const KernelTable* kt : available_kernels()) {
        std::vector<float> got(want.size(), -1.f);
        kt->f16_panel_gemm(panel.data(), n_cols, rows, x.data(), n_cols, n_tok, got.data(), ldy);
        EXPECT_EQ(got, want) << kt->name << " cols " << n_cols << " rows " << rows;
      }
      double dot = 0;  // and the reference is the product
      for (int64_t k = 0; k < n_cols; ++k) dot += static_cast<double>(x[static_cast<size_t>(k)]) * fp16_to_fp32(panel[static_cast<size_t>(k * kPanelRows)]);
      EXPECT_NEAR(want[0], dot, 1e-4 * (1 + std::fabs(dot)));
    }
  }
}

}  // namespace
}  // namespace fm
