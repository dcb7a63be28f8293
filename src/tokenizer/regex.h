#pragma once
// A backtracking regular-expression engine over code points for pre-tokenizer patterns (GPT-2, Llama 3, Qwen2,
// DeepSeek, ... and Hugging Face tokenizer.json Split patterns). Leftmost-first (Perl/Oniguruma) semantics.
// Syntax: literals, escapes (\r \n \t \s \S \d \D \w \W \p{..} \P{..} \x{..} \u....), classes with ranges and
// categories, '.', groups (...), (?:...), (?i:...), lookahead (?=...) (?!...), alternation, quantifiers
// ? * + {n} {n,} {n,m} and their lazy forms, anchors ^ $. Unsupported syntax is a clear error at compile time.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fm {

class Regex {
 public:
  explicit Regex(std::string_view pattern);  // throws std::invalid_argument naming the offset

  // End (exclusive, in code points) of the leftmost-first match starting exactly at pos, or -1.
  int64_t match_at(const uint32_t* cps, int64_t n, int64_t pos) const;
  // Splits [begin, end) into maximal runs: every non-empty match is one piece and the text between matches is
  // another (find-all semantics). Appends [start, stop) pairs.
  void split(const uint32_t* cps, int64_t begin, int64_t end, std::vector<std::pair<int64_t, int64_t>>& out) const;
  // The non-empty matches in [begin, end), leftmost first, as [start, stop) pairs.
  void find_all(const uint32_t* cps, int64_t begin, int64_t end, std::vector<std::pair<int64_t, int64_t>>& out) const;

  struct ClassItem {
    enum Kind { kRange, kCategory, kWhitespace, kDigit, kWord } kind;
    uint32_t lo = 0, hi = 0;   // kRange
    std::string category;      // kCategory
    bool negated = false;      // \P{..}, \S, \D, \W
  };

  struct CharClass {
    std::vector<ClassItem> items;
    bool negated = false;
    bool icase = false;
  };

  struct Inst {
    enum Op { kChar, kClass, kAny, kSplit, kJmp, kMatch, kLook, kBegin, kEnd } op;
    uint32_t cp = 0;  // kChar
    bool icase = false;
    int x = 0, y = 0;  // kSplit: preferred x, then y; kJmp: x; kClass: x = class; kLook: x = program, y = negative
  };

 private:
  bool run(int program, const uint32_t* cps, int64_t n, int64_t pos, int64_t* end) const;

  std::string pattern_;
  std::vector<CharClass> classes_;
  std::vector<std::vector<Inst>> programs_;  // [0] = main; others = lookahead bodies
};

}  // namespace fm
