#include "tokenizer/pretokenizer.h"

#include <map>
#include <stdexcept>

#include "tokenizer/unicode.h"

namespace fm {
namespace {

// The GPT-2 pattern, and the Llama 3 / Qwen2 ones with their (?i:...) contractions spelled out as llama.cpp does.
constexpr const char* kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
constexpr const char* kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kCjk = "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+";

const std::map<std::string, std::vector<std::string>>& named_sets() {
  static const std::map<std::string, std::vector<std::string>> sets = {
      {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"}},
      {"gpt-2", {kGpt2}},
      {"mpt", {kGpt2}},
      {"olmo", {kGpt2}},
      {"jais", {kGpt2}},
      {"llama3", {kLlama3}},
      {"llama-bpe", {kLlama3}},
      {"dbrx", {kLlama3}},
      {"smaug-bpe", {kLlama3}},
      {"qwen2", {kQwen2}},
      {"stablelm2", {kQwen2}},
      {"deepseek-r1-qwen", {kQwen2}},
      {"starcoder", {"\\p{N}", kGpt2}},
      {"refact", {"\\p{N}", kGpt2}},
      {"command-r", {"\\p{N}", kGpt2}},
      {"smollm", {"\\p{N}", kGpt2}},
      {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"}},
      {"deepseek-coder", {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kCjk, "\\p{N}"}},
      // The DeepSeek LLM letter class is written as code points: several of its members (U+1F7D, U+1FBE, U+2126,
      // U+212A, ...) would be changed by Unicode normalisation if written as characters.
      {"deepseek-llm",
       {"[\r\n]",
        "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-"
        "\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}"
        "\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-"
        "\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-"
        "\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}"
        "\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-"
        "\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-"
        "\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-"
        "\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
        "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-"
        "\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}"
        "\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}"
        "\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}"
        "\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-"
        "\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}"
        "\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
        "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+", "\\s+$", kCjk, "\\p{N}+"}},
  };
  return sets;
}

}  // namespace

PreTokenizer::PreTokenizer(const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) {
    regexes_.push_back(std::make_shared<const Regex>(p));
    behaviors_.push_back(Behavior::kIsolated);
  }
}

PreTokenizer::PreTokenizer(const std::vector<Step>& steps) {
  for (const auto& s : steps) {
    regexes_.push_back(std::make_shared<const Regex>(s.pattern));
    behaviors_.push_back(s.behavior);
  }
}

const std::vector<std::string>& PreTokenizer::gguf_patterns(const std::string& pre) {
  auto set = named_sets().find(pre);
  if (set == named_sets().end()) throw std::runtime_error("pre-tokenizer '" + pre + "' is not supported yet");
  return set->second;
}

std::vector<std::pair<size_t, size_t>> PreTokenizer::split(std::string_view text) const {
  std::vector<uint32_t> cps, offsets;
  utf8_split(text, &cps, &offsets);
  std::vector<std::pair<int64_t, int64_t>> pieces{{0, static_cast<int64_t>(cps.size())}}, next;
  if (cps.empty()) pieces.clear();
  std::vector<std::pair<int64_t, int64_t>> matches;
  for (size_t r = 0; r < regexes_.size(); ++r) {
    next.clear();
    for (const auto& [b, e] : pieces) {
      if (behaviors_[r] == Behavior::kIsolated) {
        regexes_[r]->split(cps.data(), b, e, next);
        continue;
      }
      matches.clear();
      regexes_[r]->find_all(cps.data(), b, e, matches);
      int64_t start = b;
      for (const auto& [mb, me] : matches) {
        switch (behaviors_[r]) {
          case Behavior::kMergedWithPrevious:  // the delimiter ends the current piece
            next.emplace_back(start, me);
            start = me;
            break;
          case Behavior::kMergedWithNext:  // the delimiter starts the next piece
            if (mb > start) next.emplace_back(start, mb);
            start = mb;
            break;
          default:  // kRemoved
            if (mb > start) next.emplace_back(start, mb);
            start = me;
        }
      }
      if (start < e) next.emplace_back(start, e);
    }
    pieces.swap(next);
  }
  std::vector<std::pair<size_t, size_t>> out;
  out.reserve(pieces.size());
  for (const auto& [b, e] : pieces) out.emplace_back(offsets[b], offsets[e]);
  return out;
}

}  // namespace fm
