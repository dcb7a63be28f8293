// The image path against llama.cpp's libmtmd goldens (../shared/fixtures/vision): decoded RGB and preprocessed
// pixels bit-exact (sha256), image embeddings, logits over text + image + text within the manifest's tolerances,
// and the greedy continuation while the reference margin is robust.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "gguf/gguf_file.h"
#include "image/image.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "service/media_prompt.h"
#include "support/fixtures.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"
#include "tokenizer/tokenizer.h"
#include "util/sha256.h"
#include "vision/vision_encoder.h"

namespace fm {
namespace {

const nlohmann::json& vision_manifest() {
  static const nlohmann::json m = nlohmann::json::parse(test::read_text_file(test::fixture_path("vision/MANIFEST.json")));
  return m;
}

std::string vision_path(const std::string& rel) { return test::fixture_path("vision/" + rel); }


struct Case {
  std::string pair, image;
};
std::string PrintToString(const Case& c) { return c.pair + "_" + c.image; }

class VisionGoldens : public ::testing::TestWithParam<Case> {};

TEST_P(VisionGoldens, MatchesLlamaCpp) {
  const auto& m = vision_manifest();
  const auto& pair = m["goldens"][GetParam().pair];
  const auto& c = pair["cases"][GetParam().image];
  const auto& tol = m["tolerances"]["suggested"];

  // Decoding and preprocessing, bit for bit.
  const std::string bytes = test::read_text_file(vision_path(m["images"][GetParam().image]["file"]));
  const RgbImage rgb = decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_EQ(rgb.width, c["preprocessing"]["decoded_size"][0].get<int>());
  EXPECT_EQ(rgb.height, c["preprocessing"]["decoded_size"][1].get<int>());
  EXPECT_EQ(sha256_hex(rgb.pixels.data(), rgb.pixels.size()), c["preprocessing"]["decoded_rgb_sha256"]);

  auto projector_file = GgufFile::open(vision_path(pair["mmproj"]));
  auto encoder = load_vision_encoder(*projector_file);
  const PreprocessedImage pre = encoder->preprocess(rgb);
  EXPECT_EQ(pre.resized.width, c["preprocessing"]["preprocessed_size"][0].get<int>());
  EXPECT_EQ(pre.resized.height, c["preprocessing"]["preprocessed_size"][1].get<int>());
  EXPECT_EQ(sha256_hex(pre.resized.pixels.data(), pre.resized.pixels.size()), c["preprocessing"]["preprocessed_u8_sha256"]);
  EXPECT_EQ(sha256_hex(pre.pixels.data(), pre.pixels.size() * sizeof(float)), c["preprocessing"]["preprocessed_f32_sha256"]);

  // Encoder + projector.
  ThreadPool pool(2);
  ScratchBuffer scratch;
  Compute compute{&pool, &best_kernels(), &scratch};
  auto embd = std::make_shared<ImageEmbedding>(encoder->encode(compute, pre));
  EXPECT_EQ(embd->n_tokens, c["n_image_tokens"].get<int64_t>());
  EXPECT_EQ(encoder->tokens_for(rgb.width, rgb.height), embd->n_tokens);
  const std::vector<float> golden_embd = test::read_f32_file(vision_path(c["embd_file"]));
  ASSERT_EQ(embd->data.size(), golden_embd.size());
  const test::DiffStats de = test::diff_stats(embd->data, golden_embd);
  EXPECT_LE(de.max_abs, tol["embd"]["max_abs"].get<double>());
  EXPECT_LE(de.rms, tol["embd"]["rms"].get<double>());
  if (c["use_mrope"].get<bool>()) {
    EXPECT_EQ(embd->grid_nx, c["image_nx"].get<int64_t>());
    EXPECT_EQ(embd->grid_ny, c["image_ny"].get<int64_t>());
  }

  // The prompt's chunks as mtmd tokenizes them.
  auto text_file = GgufFile::open(vision_path(pair["text_model"]));
  auto model = load_model(*text_file);
  auto tok = make_tokenizer(*text_file);
  const MediaPrompt prompt = tokenize_media_prompt(*tok, pair["prompt_text"].get<std::string>(),
                                                   image_framing(encoder->projector_type()), {embd});
  const auto& chunks = c["chunks"];
  std::vector<int32_t> expected = chunks[0]["ids"].get<std::vector<int32_t>>();
  expected.resize(expected.size() + static_cast<size_t>(embd->n_tokens), 0);
  for (int32_t id : chunks[2]["ids"].get<std::vector<int32_t>>()) expected.push_back(id);
  EXPECT_EQ(prompt.tokens, expected);
  ASSERT_EQ(prompt.images.size(), 1u);
  EXPECT_EQ(prompt.images[0].at, chunks[1]["pos_start"].get<int64_t>());

  // Logits at every row (F16 K/V as the goldens), then greedy.
  const int64_t n_vocab = model->hparams().n_vocab, n_rows = static_cast<int64_t>(prompt.tokens.size());
  const int n_gen = m["n_gen"].get<int>();
  Session session(*model, n_rows + n_gen, 512, pool);
  std::vector<float> logits(static_cast<size_t>(n_rows * n_vocab));
  const int64_t at = prompt.images[0].at, after = at + embd->n_tokens;
  session.eval_all(prompt.tokens.data(), at, logits.data());
  session.eval_image(embd->data.data(), embd->n_tokens, embd->grid_nx, logits.data() + at * n_vocab);
  session.eval_all(prompt.tokens.data() + after, n_rows - after, logits.data() + after * n_vocab);
  const std::vector<float> golden_logits = test::read_f32_file(vision_path(c["logits_file"]));
  ASSERT_EQ(logits.size(), golden_logits.size());
  const test::DiffStats dl = test::diff_stats(logits, golden_logits);
  EXPECT_LE(dl.max_abs, tol["logits"]["max_abs"].get<double>());
  EXPECT_LE(dl.rms, tol["logits"]["rms"].get<double>());

  const auto greedy = c["greedy"].get<std::vector<int32_t>>();
  const auto margins = c["greedy_margins"].get<std::vector<double>>();
  const double robust = 2 * tol["logits"]["max_abs"].get<double>();
  const float* last = logits.data() + (n_rows - 1) * n_vocab;
  int compared = 0;
  for (size_t i = 0; i < greedy.size() && margins[i] > robust; ++i, ++compared) {
    const int32_t token = argmax(last, n_vocab);
    ASSERT_EQ(token, greedy[i]) << "greedy token " << i;
    last = session.decode(token);
  }
  RecordProperty("greedy_compared", compared);
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (const char* pair : {"gemma3v", "qwen25vl"})
    for (const char* image : {"sq896", "wide1280x720", "tall300x1000", "tiny64", "alpha400x300"}) out.push_back({pair, image});
  return out;
}

TEST(VisionEncoders, QwenLongSideCapIsConfigurable) {
  auto file = GgufFile::open(vision_path(vision_manifest()["goldens"]["qwen25vl"]["mmproj"]));
  auto encoder = load_vision_encoder(*file);
  EXPECT_EQ(encoder->tokens_for(896, 896), 32 * 32);  // the fixtures' default: long side up to 1024
  encoder->set_max_side(512);                         // 512 -> 532 px (a multiple of 28) -> 19 x 19 tokens
  EXPECT_EQ(encoder->tokens_for(896, 896), 19 * 19);
  EXPECT_EQ(encoder->max_tokens(), 19 * 19);
  RgbImage img;
  img.width = 896;
  img.height = 448;
  img.pixels.assign(896u * 448u * 3u, 128);
  const PreprocessedImage pre = encoder->preprocess(img);
  EXPECT_EQ(pre.resized.width, 532);
  EXPECT_EQ(pre.resized.height, 280);
  ThreadPool pool(2);
  ScratchBuffer scratch;
  Compute compute{&pool, &best_kernels(), &scratch};
  const ImageEmbedding e = encoder->encode(compute, pre);
  EXPECT_EQ(e.n_tokens, 19 * 10);
  EXPECT_EQ(e.grid_nx, 19);
  EXPECT_EQ(e.grid_ny, 10);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VisionGoldens, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return PrintToString(info.param); });

}  // namespace
}  // namespace fm
