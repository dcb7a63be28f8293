// Pooled sequence embeddings of the synthetic decoders against llama.cpp's (shared/fixtures/embed): every pooling,
// causal and non-causal attention, F16 and F32 K/V, raw and L2-normalised, within the README's tolerances.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/embedder.h"
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

}  // namespace
}  // namespace fm
