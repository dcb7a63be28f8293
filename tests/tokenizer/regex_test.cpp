#include <gtest/gtest.h>

#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace fm {
namespace {

std::vector<std::string> pieces(const std::string& pattern, const std::string& text) {
  Regex re(pattern);
  std::vector<uint32_t> cps, offsets;
  utf8_split(text, &cps, &offsets);
  std::vector<std::pair<int64_t, int64_t>> spans;
  re.split(cps.data(), 0, static_cast<int64_t>(cps.size()), spans);
  std::vector<std::string> out;
  for (auto [b, e] : spans) out.push_back(text.substr(offsets[b], offsets[e] - offsets[b]));
  return out;
}

TEST(Regex, Gpt2PatternSplitsLikeThePythonRegex) {
  const std::string gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
  EXPECT_EQ(pieces(gpt2, "Hello world"), (std::vector<std::string>{"Hello", " world"}));
  EXPECT_EQ(pieces(gpt2, "I've  3 cats!!"), (std::vector<std::string>{"I", "'ve", " ", " 3", " cats", "!!"}));
  EXPECT_EQ(pieces(gpt2, "a   b"), (std::vector<std::string>{"a", "  ", " b"}));
  EXPECT_EQ(pieces(gpt2, "x \n"), (std::vector<std::string>{"x", " \n"}));
  EXPECT_EQ(pieces(gpt2, "нещо 42"), (std::vector<std::string>{"нещо", " 42"}));
}

TEST(Regex, CountedRepetitionCaseInsensitiveGroupsAndLazyQuantifiers) {
  EXPECT_EQ(pieces("\\p{N}{1,3}", "1234567"), (std::vector<std::string>{"123", "456", "7"}));
  EXPECT_EQ(pieces("(?i:'s|'ll)", "it'S we'LL"), (std::vector<std::string>{"it", "'S", " we", "'LL"}));
  EXPECT_EQ(pieces("a+?", "aaa"), (std::vector<std::string>{"a", "a", "a"}));
  EXPECT_EQ(pieces("[^\\s]+$", "ab cd"), (std::vector<std::string>{"ab ", "cd"}));
  EXPECT_EQ(pieces("x(?=y)", "xyxz"), (std::vector<std::string>{"x", "yxz"}));
}

TEST(Regex, BadPatternsAreRejectedWithAClearError) {
  for (const char* bad : {"(", "a)", "[abc", "\\p{Xx}", "(?<=a)b", "*a", "a{2,1}x\\", "\\q"}) {
    EXPECT_THROW(Regex{bad}, std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace fm
