// Packed GEMM (weights repacked at load) against the file-layout kernels: same products within float rounding,
// and every token's result independent of how many tokens share the call (the scheduler batches sequences) and
// of the other kind of tokens in it (decode rows and prompt rows may take different kernels).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "support/random_tensors.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/matmul.h"
#include "tensor/packed_matrix.h"
#include "tensor/thread_pool.h"

namespace fm {
namespace {

const TensorType kPackedTypes[] = {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q5_0,
                                   TensorType::Q4_K, TensorType::Q6_K, TensorType::F16};

const KernelTable* packed_table() {
  for (const KernelTable* t : available_kernels())
    if (t->packed_matmul) return t;
  return nullptr;
}

struct Case {
  std::vector<uint8_t> data;
  MatrixView view;
  std::unique_ptr<PackedMatrix> packed;
};

Case random_matrix(TensorType type, int64_t n_cols, int64_t n_rows, std::mt19937& rng) {
  Case c;
  for (int64_t r = 0; r < n_rows; ++r) {
    auto row = random_row(type, n_cols, rng);
    c.data.insert(c.data.end(), row.begin(), row.end());
  }
  c.view = MatrixView{type, n_cols, n_rows, c.data.data(), tensor_row_bytes(type, n_cols)};
  c.packed = PackedMatrix::pack(type, n_cols, n_rows, c.data.data(), c.view.row_bytes);
  return c;
}

// n_tok rows of random activations, [n_tok, n_cols].
std::vector<float> random_inputs(int64_t n_tok, int64_t n_cols, std::mt19937& rng) {
  std::vector<float> x;
  for (int64_t t = 0; t < n_tok; ++t) {
    auto row = random_activations(n_cols, rng);
    x.insert(x.end(), row.begin(), row.end());
  }
  return x;
}

class PackedMatmul : public ::testing::TestWithParam<TensorType> {};

TEST_P(PackedMatmul, MatchesFileLayoutKernelsWithinRounding) {
  const KernelTable* table = packed_table();
  if (!table) GTEST_SKIP() << "this CPU has no packed GEMM target";
  const TensorType type = GetParam();
  std::mt19937 rng(5);
  ThreadPool pool(2);
  ScratchBuffer scratch;
  const Compute c{&pool, table, &scratch};
  for (int64_t n_cols : {256, 768, 1536}) {
    for (int64_t n_rows : {16, 37, 100}) {
      Case m = random_matrix(type, n_cols, n_rows, rng);
      ASSERT_TRUE(m.packed) << tensor_type_name(type);
      // 70 tokens: pairs of 16-token tiles plus a tail (AMX), tiles of 8 plus a tail (vpdpbusd / FMA).
      const int64_t n_tok = n_rows == 37 ? 70 : 11;
      const std::vector<float> x = random_inputs(n_tok, n_cols, rng);
      std::vector<float> ref(n_tok * n_rows), got(n_tok * n_rows, NAN);
      matmul(c, m.view, x.data(), n_tok, ref.data());  // file layout
      MatrixView packed_view = m.view;
      packed_view.packed = m.packed.get();
      matmul(c, packed_view, x.data(), n_tok, got.data());
      // F16 prompt rows on AMX drop the lo*lo part of each product (< 2^-16 of it; see packed_gemm_avx512.cpp).
      const double rel = type == TensorType::F16 ? 3e-5 : 1e-5;
      std::vector<float> wf(n_cols);
      for (int64_t r = 0; r < n_rows; ++r) {
        table->dequantize_fn(type)(m.view.row(r), wf.data(), n_cols);
        for (int64_t t = 0; t < n_tok; ++t) {
          double magnitude = 0;
          for (int64_t k = 0; k < n_cols; ++k) magnitude += std::fabs(wf[k] * x[t * n_cols + k]);
          ASSERT_NEAR(got[t * n_rows + r], ref[t * n_rows + r], rel * magnitude + 1e-6)
              << tensor_type_name(type) << " cols=" << n_cols << " rows=" << n_rows << " r=" << r << " t=" << t;
        }
      }
    }
  }
}

TEST_P(PackedMatmul, EachTokenIsIndependentOfTheBatchAroundIt) {
  const KernelTable* table = packed_table();
  if (!table) GTEST_SKIP() << "this CPU has no packed GEMM target";
  const TensorType type = GetParam();
  std::mt19937 rng(9);
  ThreadPool pool(2);
  ScratchBuffer scratch;
  const Compute c{&pool, table, &scratch};
  const int64_t n_cols = 512, n_rows = 53, n_tok = 77;  // tiles of 8 tokens with a tail, chunks of 64 with a tail
  Case m = random_matrix(type, n_cols, n_rows, rng);
  m.view.packed = m.packed.get();
  const std::vector<float> x = random_inputs(n_tok, n_cols, rng);
  std::vector<float> batched(n_tok * n_rows), alone(n_rows);
  matmul(c, m.view, x.data(), n_tok, batched.data());
  for (int64_t t = 0; t < n_tok; ++t) {
    matmul(c, m.view, x.data() + t * n_cols, 1, alone.data());
    for (int64_t r = 0; r < n_rows; ++r)
      ASSERT_EQ(batched[t * n_rows + r], alone[r]) << tensor_type_name(type) << " t=" << t << " r=" << r;
  }
}

TEST_P(PackedMatmul, DecodeRowsAndPromptRowsEachTakeTheirOwnRoute) {
  const KernelTable* table = packed_table();
  if (!table) GTEST_SKIP() << "this CPU has no packed GEMM target";
  const TensorType type = GetParam();
  std::mt19937 rng(21);
  ThreadPool pool(2);
  ScratchBuffer scratch;
  Compute c{&pool, table, &scratch};
  const int64_t n_cols = 512, n_rows = 53, n_tok = 40, n_decode = 3;
  Case m = random_matrix(type, n_cols, n_rows, rng);
  m.view.packed = m.packed.get();
  const std::vector<float> x = random_inputs(n_tok, n_cols, rng);
  std::vector<float> mixed(n_tok * n_rows), decode(n_rows), prompt((n_tok - n_decode) * n_rows);
  c.n_decode_rows = n_decode;
  matmul(c, m.view, x.data(), n_tok, mixed.data());
  for (int64_t t = 0; t < n_decode; ++t) {  // a decode token alone
    c.n_decode_rows = 1;
    matmul(c, m.view, x.data() + t * n_cols, 1, decode.data());
    EXPECT_EQ(std::vector<float>(mixed.begin() + t * n_rows, mixed.begin() + (t + 1) * n_rows), decode)
        << tensor_type_name(type) << " decode row " << t;
  }
  c.n_decode_rows = 0;  // the prompt rows alone
  matmul(c, m.view, x.data() + n_decode * n_cols, n_tok - n_decode, prompt.data());
  EXPECT_EQ(std::vector<float>(mixed.begin() + n_decode * n_rows, mixed.end()), prompt) << tensor_type_name(type);
}

TEST(PackedMatmul, SharedInputProductsEqualSeparateProducts) {
  const KernelTable* table = packed_table();
  if (!table) GTEST_SKIP() << "this CPU has no packed GEMM target";
  std::mt19937 rng(13);
  ThreadPool pool(2);
  ScratchBuffer scratch;
  const Compute c{&pool, table, &scratch};
  const int64_t n_cols = 512, n_tok = 10;
  Case a = random_matrix(TensorType::Q5_0, n_cols, 40, rng), b = random_matrix(TensorType::Q6_K, n_cols, 24, rng),
       f = random_matrix(TensorType::F16, n_cols, 33, rng);
  for (Case* m : {&a, &b, &f}) m->view.packed = m->packed.get();
  const std::vector<float> x = random_inputs(n_tok, n_cols, rng);
  std::vector<float> ya(n_tok * 40), yb(n_tok * 24), yf(n_tok * 33);
  matmul_shared_input(c, {&a.view, &b.view, &f.view}, {ya.data(), yb.data(), yf.data()}, x.data(), n_tok);
  for (Case* m : {&a, &b, &f}) {
    std::vector<float> alone(n_tok * m->view.n_rows);
    matmul(c, m->view, x.data(), n_tok, alone.data());
    const std::vector<float>& shared = m == &a ? ya : (m == &b ? yb : yf);
    EXPECT_EQ(alone, shared) << tensor_type_name(m->view.type);
  }
}

INSTANTIATE_TEST_SUITE_P(PackedTypes, PackedMatmul, ::testing::ValuesIn(kPackedTypes),
                         [](const auto& info) { return std::string(tensor_type_name(info.param)); });

TEST(PackedMatrix, PacksOnlyWhatTheKernelsCover) {
  EXPECT_TRUE(PackedMatrix::packable(TensorType::Q4_K, 512));
  EXPECT_FALSE(PackedMatrix::packable(TensorType::Q4_K, 96));  // not whole super-blocks
  EXPECT_TRUE(PackedMatrix::packable(TensorType::Q8_0, 96));
  EXPECT_FALSE(PackedMatrix::packable(TensorType::F16, 100));
  EXPECT_FALSE(PackedMatrix::packable(TensorType::Q5_K, 256));
  EXPECT_FALSE(PackedMatrix::packable(TensorType::F32, 256));
}

}  // namespace
}  // namespace fm
