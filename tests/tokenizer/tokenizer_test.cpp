#include <gtest/gtest.h>

#include <sstream>

#include "gguf/gguf_file.h"
#include "support/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace fm {
namespace {

std::vector<std::string> split_cases(const std::string& text) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  for (size_t next; (next = text.find(sep, pos)) != std::string::npos; pos = next + sep.size())
    out.push_back(text.substr(pos, next - pos));
  return out;
}

std::vector<int32_t> parse_ids(const std::string& line) {
  std::vector<int32_t> ids;
  std::stringstream ss(line);
  for (int32_t id; ss >> id;) ids.push_back(id);
  return ids;
}

TEST(SpmTokenizer, AidreamsPromptsTokenizeLikeLlamaCpp) {
  auto file = GgufFile::open(test::fixture_path("models/aidreams260K.gguf"));
  auto tok = make_tokenizer(*file);
  int checked = 0;
  for (const auto& g : test::manifest()["aidreams260K"]["goldens"]) {
    EXPECT_EQ(tok->encode(g["prompt_text"].get<std::string>(), true), g["prompt_ids"].get<std::vector<int32_t>>())
        << g["prompt_text"];
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(SpmTokenizer, GreedyPiecesDetokenizeToTheGoldenText) {
  auto file = GgufFile::open(test::fixture_path("models/aidreams260K.gguf"));
  auto tok = make_tokenizer(*file);
  for (const auto& g : test::manifest()["aidreams260K"]["goldens"]) {
    std::string text;
    for (int32_t id : g["greedy_ids"].get<std::vector<int32_t>>()) text += tok->token_to_piece(id);
    EXPECT_EQ(text, g["greedy_text"].get<std::string>());
  }
}

// llama.cpp's test-tokenizer-0 vectors for every vocabulary in the manifest (add_special and parse_special off).
std::vector<std::string> vocab_files() {
  std::vector<std::string> out;
  for (const auto& v : test::manifest()["vocab_tests"]) out.push_back(v["vocab"]);
  return out;
}

class VocabVectors : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabVectors, EveryCaseMatchesLlamaCpp) {
  const std::string base = test::fixture_path(GetParam());
  auto file = GgufFile::open(base);
  auto tok = make_tokenizer(*file);
  const std::vector<std::string> inputs = split_cases(test::read_text_file(base + ".inp"));
  std::stringstream out(test::read_text_file(base + ".out"));
  int checked = 0;
  for (const std::string& input : inputs) {
    std::string line;
    ASSERT_TRUE(std::getline(out, line));
    EXPECT_EQ(tok->encode(input, false), parse_ids(line)) << "input: '" << input << "'";
    ++checked;
  }
  EXPECT_GT(checked, 30);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VocabVectors, ::testing::ValuesIn(vocab_files()), [](const auto& info) {
  std::string name = info.param.substr(info.param.find("ggml-vocab-") + 11);
  name = name.substr(0, name.find(".gguf"));
  for (char& c : name)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

TEST(VocabVectorsManifest, ListsEveryVocabulary) { EXPECT_EQ(vocab_files().size(), 10u); }

TEST(Utf8StreamDecoder, HoldsBackIncompleteCharacters) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.push("a\xE2"), "a");
  EXPECT_EQ(d.push("\x96"), "");
  EXPECT_EQ(d.push("\x81" "b"), "\xE2\x96\x81" "b");
  EXPECT_EQ(d.push("\xF0\x9F"), "");
  EXPECT_EQ(d.flush(), "\xF0\x9F");
}

}  // namespace
}  // namespace fm
