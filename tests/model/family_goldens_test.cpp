// Numerical agreement with llama.cpp on every entry of the fixture manifest: the real aidreams260K model and the
// synthetic model of every architecture family in every weight type. Criteria and tolerances come from the
// manifest.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "support/fixtures.h"
#include "tensor/thread_pool.h"

namespace fm {
namespace {

using nlohmann::json;

struct GoldenCase {
  std::string name;         // test name
  std::string model;        // path relative to fixtures
  std::string arch, variant;
  json goldens;             // the manifest's goldens array
  json kv_f32_goldens;      // synthetic F32 files: the same prompts with an f32 KV cache
  json tolerance;           // {max_abs, rms[, max_abs_vs_kvf32_goldens]}
  bool real_model = false;  // aidreams: kv_cache_f32 nested per golden
};

const char* const kArchitectures[] = {"llama", "qwen2", "qwen3", "qwen3moe", "gemma3", "phi3"};

std::vector<GoldenCase> all_cases() {
  std::vector<GoldenCase> out;
  const json& m = test::manifest();
  for (const json& f : m["synthetic"]["files"]) {
    const std::string arch = f["architecture"];
    GoldenCase c;
    c.arch = arch;
    c.variant = f["variant"];
    c.name = "syn_" + arch + "_" + c.variant;
    c.model = f["file"];
    c.goldens = f["goldens"];
    c.kv_f32_goldens = f.value("kv_cache_f32_goldens", json::array());
    c.tolerance = m["summary"]["suggested_tolerances"][arch][c.variant];
    out.push_back(c);
  }
  {
    const json& a = m["aidreams260K"];
    GoldenCase c;
    c.arch = "llama";
    c.variant = a["variant"];
    c.name = "aidreams260K";
    c.model = a["file"];
    c.goldens = a["goldens"];
    c.tolerance = a["suggested_tolerances"];
    c.real_model = true;
    out.push_back(c);
  }
  return out;
}

struct Diff {
  double max_abs = 0, rms = 0;
  int64_t argmax_mismatches = 0;
};

Diff compare(const std::vector<float>& got, const std::vector<float>& want, int64_t n_vocab) {
  Diff d;
  const test::DiffStats s = test::diff_stats(got, want);
  d.max_abs = s.max_abs;
  d.rms = s.rms;
  for (size_t row = 0; row < got.size() / n_vocab; ++row)
    d.argmax_mismatches += argmax(got.data() + row * n_vocab, n_vocab) != argmax(want.data() + row * n_vocab, n_vocab);
  return d;
}

std::vector<int32_t> ids_of(const json& arr) { return arr.get<std::vector<int32_t>>(); }

// Keeps gtest from hex-dumping the case in test names and failure messages.
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

class FamilyGoldens : public ::testing::TestWithParam<GoldenCase> {
 protected:
  // Logits of every prompt position, then `n_greedy` argmax-continued ids, with an f32 KV cache.
  void evaluate(const std::vector<int32_t>& prompt, int n_greedy, TensorType kv_type, std::vector<float>* logits,
                std::vector<int32_t>* greedy) {
    ThreadPool pool(2);
    Session session(*model_, static_cast<int64_t>(prompt.size()) + n_greedy, 512, pool, kv_type);
    const int64_t n_vocab = session.n_vocab();
    logits->assign(prompt.size() * n_vocab, 0.f);
    session.eval_all(prompt.data(), static_cast<int64_t>(prompt.size()), logits->data());
    const float* last = logits->data() + (prompt.size() - 1) * n_vocab;
    for (int i = 0; i < n_greedy; ++i) {
      int32_t t = argmax(last, n_vocab);
      greedy->push_back(t);
      if (i + 1 < n_greedy) last = session.decode(t);
    }
  }

  void SetUp() override {
    file_ = GgufFile::open(test::fixture_path(GetParam().model));
    model_ = load_model(*file_);
  }

  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<Model> model_;
};

TEST_P(FamilyGoldens, LogitsArgmaxAndGreedyMatchLlamaCpp) {
  const GoldenCase& c = GetParam();
  const int64_t n_vocab = model_->hparams().n_vocab;
  const double max_abs_tol = c.tolerance["max_abs"], rms_tol = c.tolerance["rms"];
  const bool f32 = c.variant == "F32";
  for (const json& g : c.goldens) {
    const std::vector<int32_t> prompt = ids_of(g["prompt_ids"]);
    const std::vector<int32_t> want_greedy = ids_of(g["greedy_ids"]);
    std::vector<float> logits;
    std::vector<int32_t> greedy;
    // The default goldens were computed with llama.cpp's default f16 KV cache.
    evaluate(prompt, static_cast<int>(want_greedy.size()), TensorType::F16, &logits, &greedy);
    const std::string where = c.name + " prompt " + std::to_string(g["prompt_index"].get<int>());

    const std::vector<float> want = test::read_f32_file(test::fixture_path(g["logits_file"]));
    ASSERT_EQ(want.size(), logits.size()) << where;
    const Diff d = compare(logits, want, n_vocab);
    EXPECT_LE(d.max_abs, max_abs_tol) << where << " (rms " << d.rms << ")";
    EXPECT_LE(d.rms, rms_tol) << where;
    // Argmax equal at every position whose golden top1-top2 margin is robust (> 2 x max_abs, the manifest's rule
    // for greedy steps); below that, llama.cpp's own batched and single-token kernels disagree by more.
    for (size_t row = 0; row < prompt.size(); ++row) {
      const float* w = want.data() + row * n_vocab;
      const int32_t golden = argmax(w, n_vocab), ours = argmax(logits.data() + row * n_vocab, n_vocab);
      if (golden == ours) continue;
      float second = -INFINITY;
      for (int64_t i = 0; i < n_vocab; ++i)
        if (i != golden) second = std::max(second, w[i]);
      EXPECT_LE(w[golden] - second, 2 * max_abs_tol)
          << where << " position " << row << ": argmax " << ours << " instead of " << golden << " at a robust margin";
    }
    if (f32) {
      EXPECT_EQ(d.argmax_mismatches, 0) << where;
    }
    RecordProperty(where + " max_abs", std::to_string(d.max_abs));
    RecordProperty(where + " argmax_mismatches", std::to_string(d.argmax_mismatches));

    if (f32) {
      // Exact f32 math with an f32 KV cache must match the kvf32 goldens closely and their greedy ids exactly.
      json kv = c.real_model ? g["kv_cache_f32"] : json();
      for (const json& e : c.kv_f32_goldens)
        if (e["prompt_index"] == g["prompt_index"]) kv = e;
      ASSERT_TRUE(kv.is_object()) << where << ": no f32-KV golden in the manifest";
      const std::string kv_file = kv["logits_file"];
      const std::vector<int32_t> kv_greedy = ids_of(kv["greedy_ids"]);
      std::vector<float> logits32;
      std::vector<int32_t> greedy32;
      evaluate(prompt, static_cast<int>(kv_greedy.size()), TensorType::F32, &logits32, &greedy32);
      const std::vector<float> want32 = test::read_f32_file(test::fixture_path(kv_file));
      const Diff d32 = compare(logits32, want32, n_vocab);
      EXPECT_LE(d32.max_abs, c.tolerance.value("max_abs_vs_kvf32_goldens", 1e-4)) << where << " vs kvf32";
      EXPECT_EQ(d32.argmax_mismatches, 0) << where << " vs kvf32";
      EXPECT_EQ(greedy32, kv_greedy) << where << ": greedy continuation differs from the f32-KV golden";
    } else {
      const size_t robust = g["greedy_robust_prefix"].get<size_t>();
      ASSERT_LE(robust, greedy.size());
      EXPECT_EQ(std::vector<int32_t>(greedy.begin(), greedy.begin() + robust),
                std::vector<int32_t>(want_greedy.begin(), want_greedy.begin() + robust))
          << where << ": greedy ids differ within the robust prefix of " << robust;
    }
  }
}

// Prefill in chunks of 5 tokens (which also makes gemma3's sliding-window layers wrap their KV rings) gives the
// same logits and greedy tokens, bit for bit, as one 512-token batch: every token's math is batch-independent.
TEST_P(FamilyGoldens, ChunkedPrefillAndWindowRingsAreBitIdentical) {
  const json& g = GetParam().goldens.back();
  const std::vector<int32_t> prompt = ids_of(g["prompt_ids"]);
  const int64_t n_ctx = static_cast<int64_t>(prompt.size()) + 32, n_vocab = model_->hparams().n_vocab;
  ThreadPool pool(2);
  Session whole(*model_, n_ctx, 512, pool), chunked(*model_, n_ctx, 5, pool);
  std::vector<float> a(prompt.size() * n_vocab), b(prompt.size() * n_vocab);
  whole.eval_all(prompt.data(), static_cast<int64_t>(prompt.size()), a.data());
  chunked.eval_all(prompt.data(), static_cast<int64_t>(prompt.size()), b.data());
  ASSERT_EQ(a, b);
  const float *la = a.data() + (prompt.size() - 1) * n_vocab, *lb = b.data() + (prompt.size() - 1) * n_vocab;
  for (int i = 0; i < 32; ++i) {
    const int32_t ta = argmax(la, n_vocab), tb = argmax(lb, n_vocab);
    ASSERT_EQ(ta, tb) << "step " << i;
    la = whole.decode(ta);
    lb = chunked.decode(tb);
  }
  if (GetParam().arch == "gemma3") {
    EXPECT_LT(chunked.kv_cache_bytes(), whole.kv_cache_bytes() / 2) << "sliding-window layers must not grow past the window";
  }
}

INSTANTIATE_TEST_SUITE_P(Manifest, FamilyGoldens, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(FamilyGoldensManifest, CoversTheRealModelAndEveryArchitectureInEveryType) {
  std::map<std::string, int> per_arch;
  for (const GoldenCase& c : all_cases()) per_arch[c.arch]++;
  for (const char* arch : kArchitectures) EXPECT_EQ(per_arch[arch], arch == std::string("llama") ? 9 : 8) << arch;
  std::vector<std::string> supported = supported_architectures();
  for (const auto& [arch, count] : per_arch)
    EXPECT_NE(std::find(supported.begin(), supported.end(), arch), supported.end()) << arch << " has fixtures but no family";
}

}  // namespace
}  // namespace fm
