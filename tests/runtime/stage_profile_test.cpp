// `fmserve bench --profile`'s accounting: every stage of the layers is timed once per layer and token, the stages
// cover the pass's wall time, and the thread pool counts its loops only while profiling.
#include <gtest/gtest.h>

#include <chrono>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/session.h"
#include "support/fixtures.h"
#include "tensor/stage_profile.h"
#include "tensor/thread_pool.h"

namespace fm {
namespace {

int64_t calls(const StageProfile& p, Stage s) { return p.calls[static_cast<size_t>(s)]; }

struct Profiled {
  StageProfile profile;
  double wall_s = 0;
  int64_t layers = 0;
};

Profiled decode_profiled(const std::string& name, ThreadPool& pool, int tokens) {
  auto file = GgufFile::open(test::fixture_path("models/synthetic/syn-" + name + ".gguf"));
  auto model = load_model(*file);
  Profiled out;
  out.layers = model->hparams().n_layer;
  Session session(*model, 64, 16, pool);
  const int32_t prompt[] = {1, 317, 263, 269};
  session.eval(prompt, 4);
  session.set_profile(&out.profile);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < tokens; ++i) session.decode(300 + i);
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

TEST(StageProfile, EveryStageOfADenseDecoderIsTimedOncePerLayerAndToken) {
  ThreadPool pool(2);
  const Profiled r = decode_profiled("llama-Q4_K_M", pool, 8);
  const int64_t per_layer = 8 * r.layers;
  EXPECT_EQ(calls(r.profile, Stage::kEmbed), 8);
  for (Stage s : {Stage::kQkv, Stage::kRope, Stage::kAttention, Stage::kAttnOutput, Stage::kFfnGateUp,
                  Stage::kFfnActivation, Stage::kFfnDown})
    EXPECT_EQ(calls(r.profile, s), per_layer) << stage_name(s);
  EXPECT_EQ(calls(r.profile, Stage::kNorm), 2 * per_layer) << "the attention and FFN input norms";
  EXPECT_EQ(calls(r.profile, Stage::kLogits), 8);
  EXPECT_EQ(calls(r.profile, Stage::kMoeRouting), 0);
  double staged = 0;
  for (double s : r.profile.seconds) staged += s;
  EXPECT_LE(staged, r.wall_s);
  EXPECT_GT(staged, 0.5 * r.wall_s) << "the stages cover the forward pass";
}

TEST(StageProfile, MixtureOfExpertsLayersTimeTheirRouting) {
  ThreadPool pool(2);
  const Profiled r = decode_profiled("qwen3moe-Q8_0", pool, 4);
  EXPECT_EQ(calls(r.profile, Stage::kQkv), 4 * r.layers);
  EXPECT_GT(calls(r.profile, Stage::kMoeRouting), 4 * r.layers);  // the router, then each expert's scatter
  EXPECT_GT(calls(r.profile, Stage::kFfnDown), 0);
  EXPECT_GT(calls(r.profile, Stage::kNorm), 4 * 2 * r.layers) << "qwen3's q and k norms too";
}

TEST(StageProfile, TheThreadPoolCountsLoopsOnlyWhileProfiling) {
  ThreadPool pool(2);
  auto loop = [&] { pool.parallel_for(64, 1, [](int64_t, int64_t) {}); };
  loop();
  EXPECT_EQ(pool.profiled_loops(), 0);
  pool.set_profiling(true);
  for (int i = 0; i < 10; ++i) loop();
  pool.set_profiling(false);
  loop();
  EXPECT_EQ(pool.profiled_loops(), 10);
  EXPECT_GE(pool.barrier_seconds(), 0.0);
  pool.clear_profile();
  EXPECT_EQ(pool.profiled_loops(), 0);
}

}  // namespace
}  // namespace fm
