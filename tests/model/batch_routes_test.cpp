// Decode tokens and prompt tokens may take different kernels (Compute::n_decode_rows; e.g. F16 products send
// prompt rows through AMX bf16 tiles and decode rows through the FMA kernel). A token's arithmetic must depend on
// its kind only: a batch mixing one sequence's decode step with another's prompt gives each of them bit for bit
// the logits it gets alone.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "runtime/session.h"
#include "support/fixtures.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm {
namespace {

class BatchRoutes : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchRoutes, MixedDecodeAndPromptBatchMatchesEachSequenceAlone) {
  auto file = GgufFile::open(test::fixture_path("models/synthetic/" + GetParam()));
  auto model = load_model(*file);
  const HParams& hp = model->hparams();
  const int64_t n_ctx = 32, max_batch = 16, n_vocab = hp.n_vocab;
  const std::vector<int32_t> prompt_a = {1, 300, 301, 302, 303}, prompt_b = {1, 400, 17, 401, 402, 99, 403, 404, 405};
  const int32_t decoded = 310;
  ThreadPool pool(2);

  // Alone: A's prompt then one decode step; B's prompt with every position's logits.
  Session alone_a(*model, n_ctx, max_batch, pool), alone_b(*model, n_ctx, max_batch, pool);
  alone_a.eval(prompt_a.data(), static_cast<int64_t>(prompt_a.size()));
  const float* a_logits = alone_a.decode(decoded);
  const std::vector<float> expect_a(a_logits, a_logits + n_vocab);
  std::vector<float> expect_b(prompt_b.size() * n_vocab);
  alone_b.eval_all(prompt_b.data(), static_cast<int64_t>(prompt_b.size()), expect_b.data());

  // Together: A's prompt alone, then A's decode step and all of B's prompt in one forward pass.
  KvCache cache_a(hp.n_layer, n_ctx, hp.kv_dim(), hp.v_dim(), TensorType::F16, model->kv_layer_rows(n_ctx, max_batch));
  KvCache cache_b(hp.n_layer, n_ctx, hp.kv_dim(), hp.v_dim(), TensorType::F16, model->kv_layer_rows(n_ctx, max_batch));
  ForwardState state(hp, max_batch, n_ctx, pool.size());
  Compute c{&pool, &best_kernels(), &state.act};
  std::vector<float> logits((1 + prompt_b.size()) * n_vocab);
  Batch batch;
  batch.add(cache_a, prompt_a.data(), static_cast<int64_t>(prompt_a.size()), false);
  model->forward(c, state, batch, logits.data());
  batch.clear();
  batch.add_decode(cache_a, decoded);
  batch.add(cache_b, prompt_b.data(), static_cast<int64_t>(prompt_b.size()), true);
  ASSERT_EQ(batch.n_decode, 1);
  model->forward(c, state, batch, logits.data());

  EXPECT_EQ(std::vector<float>(logits.begin(), logits.begin() + n_vocab), expect_a) << "decode row";
  EXPECT_EQ(std::vector<float>(logits.begin() + n_vocab, logits.end()), expect_b) << "prompt rows";
}

TEST(Batch, DecodeTokensMustLeadTheBatch) {
  auto file = GgufFile::open(test::fixture_path("models/synthetic/syn-qwen3-Q8_0.gguf"));
  auto model = load_model(*file);
  const HParams& hp = model->hparams();
  KvCache a(hp.n_layer, 8, hp.kv_dim(), hp.v_dim(), TensorType::F16, model->kv_layer_rows(8, 4));
  KvCache b(hp.n_layer, 8, hp.kv_dim(), hp.v_dim(), TensorType::F16, model->kv_layer_rows(8, 4));
  Batch batch;
  const int32_t prompt[] = {1, 2};
  batch.add(a, prompt, 2, false);
  EXPECT_THROW(batch.add_decode(b, 3), std::logic_error);
}

INSTANTIATE_TEST_SUITE_P(Models, BatchRoutes,
                         ::testing::Values("syn-qwen3-F16.gguf", "syn-qwen3moe-F16.gguf", "syn-llama-F16.gguf",
                                           "syn-qwen3-Q8_0.gguf"),
                         [](const auto& info) {
                           std::string name = info.param.substr(4, info.param.size() - 9);
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

}  // namespace
}  // namespace fm
