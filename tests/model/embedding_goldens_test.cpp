// Pooled sequence embeddings of the synthetic decoders against llama.cpp's (shared/fixtures/embed): every pooling,
// causal and non-causal attention, F16 and F32 K/V, raw and L2-normalised, within the README's tolerances.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "runtime/embedder.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"
#include "tokenizer/tokenizer.h"
#include "support/fixtures.h"

namespace fm {
namespace {

std::vector<float> read_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

TEST(EmbeddingGoldens, EveryManifestFileWithinTolerance) {
  std::ifstream in(test::fixture_path("embed/MANIFEST.json"));
  ASSERT_TRUE(in) << "embed/MANIFEST.json";
  const nlohmann::json manifest = nlohmann::json::parse(in);
  size_t checked = 0;
  for (const auto& [arch, m] : manifest["models"].items()) {
    auto file = GgufFile::open(test::fixture_path(m["file"]));
    auto model = load_model(*file);
    const auto prompts = m["prompt_ids"].get<std::vector<std::vector<int32_t>>>();
    for (const auto& f : manifest["files"]) {
      if (f["arch"] != arch) continue;
      const bool f16 = f["kv_cache_type"] == "f16";
      EmbedderOptions eo;
      eo.max_input = 64;
      eo.kv_type = f16 ? TensorType::F16 : TensorType::F32;
      eo.threads = 2;
      Embedder embedder(*model, eo);
      EmbeddingOptions options;
      ASSERT_TRUE(parse_pooling(f["pooling"], &options.pooling));
      options.causal = f["attention"] == "causal";
      const auto raw = embedder.embed_all(prompts, options);
      options.normalize = true;
      const auto l2 = embedder.embed_all(prompts, options);
      const std::vector<float> want_raw = read_f32(test::fixture_path(f["file"]));
      const std::vector<float> want_l2 = read_f32(test::fixture_path(f["l2_file"]));
      // README: kvf32 1e-4 raw / 2e-6 l2; kvf16 0.05 raw / 2e-3 l2 for implementations that keep K/V in f32. Ours
      // rounds K/V to f16 as llama.cpp does and lands closer (measured: at most 2.1e-3 raw, 5.1e-5 l2), so the
      // kvf16 bounds here are 5x those measurements.
      const double tol_raw = f16 ? 0.01 : 1e-4, tol_l2 = f16 ? 2.5e-4 : 2e-6;
      double worst_raw = 0, worst_l2 = 0;
      for (size_t p = 0; p < prompts.size(); ++p) {
        ASSERT_EQ(raw[p].size(), 256u);
        for (size_t d = 0; d < 256; ++d) {
          worst_raw = std::max(worst_raw, std::fabs(double(raw[p][d]) - want_raw[p * 256 + d]));
          worst_l2 = std::max(worst_l2, std::fabs(double(l2[p][d]) - want_l2[p * 256 + d]));
        }
      }
      EXPECT_LE(worst_raw, tol_raw) << f["file"];
      EXPECT_LE(worst_l2, tol_l2) << f["l2_file"];
      RecordProperty(f["file"].get<std::string>(), std::to_string(worst_raw) + " / " + std::to_string(worst_l2));
      ++checked;
    }
  }
  EXPECT_EQ(checked, manifest["files"].size());
}

// The BERT-family encoders (shared/fixtures/embed/bert): our WordPiece tokenization equals the manifest's ids, and
// the pooled (both poolings, raw and L2) and per-token states are within the README's tolerances.
TEST(EmbeddingGoldens, BertFamilyEncoders) {
  std::ifstream in(test::fixture_path("embed/bert/MANIFEST.json"));
  ASSERT_TRUE(in) << "embed/bert/MANIFEST.json";
  const nlohmann::json manifest = nlohmann::json::parse(in);
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& p : manifest["prompts"]) prompts.push_back(p["ids"].get<std::vector<int32_t>>());
  size_t pooled = 0, per_token = 0;
  for (const auto& [name, m] : manifest["models"].items()) {
    auto file = GgufFile::open(test::fixture_path("embed/bert/" + m["file"].get<std::string>()));
    auto model = load_model(*file);
    auto tokenizer = make_tokenizer(*file);
    for (const auto& p : manifest["prompts"])
      EXPECT_EQ(tokenizer->encode(p["text"].get<std::string>(), true), p["ids"].get<std::vector<int32_t>>()) << name << " prompt " << p["index"];
    const bool nomic = m["hparams"]["arch"] == "nomic-bert";
    const double tol_raw = nomic ? 1e-4 : 3e-3, tol_l2 = nomic ? 1e-5 : 3e-4;
    EmbedderOptions eo;
    eo.max_input = 64;
    eo.kv_type = TensorType::F16;  // ignored for encoders: their K/V stay f32
    eo.threads = 2;
    Embedder embedder(*model, eo);
    const EmbeddingOptions defaults = embedding_defaults(*file);
    EXPECT_FALSE(defaults.causal) << name;
    for (const auto& g : manifest["goldens"]) {
      if (g["model"] != m["file"]) continue;
      EmbeddingOptions options = defaults;
      ASSERT_TRUE(parse_pooling(g["pooling"], &options.pooling));
      const auto raw = embedder.embed_all(prompts, options);
      options.normalize = true;
      const auto l2 = embedder.embed_all(prompts, options);
      const std::vector<float> want_raw = read_f32(test::fixture_path("embed/bert/" + g["file"].get<std::string>()));
      const std::vector<float> want_l2 = read_f32(test::fixture_path("embed/bert/" + g["l2_file"].get<std::string>()));
      double worst_raw = 0, worst_l2 = 0;
      for (size_t p = 0; p < prompts.size(); ++p)
        for (size_t d = 0; d < 128; ++d) {
          worst_raw = std::max(worst_raw, std::fabs(double(raw[p][d]) - want_raw[p * 128 + d]));
          worst_l2 = std::max(worst_l2, std::fabs(double(l2[p][d]) - want_l2[p * 128 + d]));
        }
      EXPECT_LE(worst_raw, tol_raw) << g["file"];
      EXPECT_LE(worst_l2, tol_l2) << g["l2_file"];
      RecordProperty(g["file"].get<std::string>(), std::to_string(worst_raw) + " / " + std::to_string(worst_l2));
      ++pooled;
    }
    // Per-token states: mean pooling over one position is that position's row.
    for (const auto& g : manifest["token_goldens"]) {
      if (g["model"] != m["file"]) continue;
      const auto& ids = prompts[g["prompt"].get<size_t>()];
      const std::vector<float> want = read_f32(test::fixture_path("embed/bert/" + g["file"].get<std::string>()));
      ASSERT_EQ(want.size(), ids.size() * 128);
      KvCache cache(model->hparams().n_layer, static_cast<int64_t>(ids.size()), model->hparams().kv_dim(), model->hparams().v_dim(), TensorType::F32);
      ThreadPool pool(2);
      ForwardState state(model->hparams(), 64, 64, pool.size());
      Compute c;
      c.pool = &pool;
      c.kernels = &best_kernels();
      c.scratch = &state.act;
      Batch batch;
      batch.add(cache, ids.data(), static_cast<int64_t>(ids.size()), true);
      batch.seqs.back().causal = false;
      batch.output_hidden = true;
      std::vector<float> hidden(ids.size() * 128);
      model->forward(c, state, batch, hidden.data());
      double worst = 0;
      for (size_t i = 0; i < hidden.size(); ++i) worst = std::max(worst, std::fabs(double(hidden[i]) - want[i]));
      EXPECT_LE(worst, nomic ? 1e-4 : 3e-3) << g["file"];
      ++per_token;
    }
  }
  EXPECT_EQ(pooled, manifest["goldens"].size());
  EXPECT_EQ(per_token, manifest["token_goldens"].size());
}

}  // namespace
}  // namespace fm
