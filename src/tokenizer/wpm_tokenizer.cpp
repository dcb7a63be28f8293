#include "tokenizer/wpm_tokenizer.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <stdexcept>

#include "tokenizer/unicode.h"

namespace fm {
namespace {

constexpr std::string_view kWordMarker = "\xE2\x96\x81";  // U+2581, prefixed to every word

bool is_chinese_char(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Each code point replaced by the first code point of its canonical decomposition: llama.cpp's one-to-one "NFD"
// table, which strips accents from precomposed letters (Ä -> A) but keeps combining marks typed on their own.
std::vector<uint32_t> decompose_to_base(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFDInstance(status);
  if (U_FAILURE(status)) throw std::runtime_error("ICU NFD normalizer is unavailable");
  std::vector<uint32_t> cps, offsets;
  utf8_split(text, &cps, &offsets);
  icu::UnicodeString decomposition;
  for (uint32_t& cp : cps) {
    if (cp < 0xC0) continue;  // nothing below U+00C0 decomposes
    if (normalizer->getDecomposition(static_cast<UChar32>(cp), decomposition) && decomposition.length() > 0)
      cp = static_cast<uint32_t>(decomposition.char32At(0));
  }
  return cps;
}

}  // namespace

WpmTokenizer::WpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {
  for (int32_t id = 0; id < vocab_.size(); ++id) max_token_bytes_ = std::max(max_token_bytes_, vocab_.text(id).size());
}

void WpmTokenizer::encode_text(std::string_view text, bool, std::vector<int32_t>& out) const {
  // Words: runs of ordinary characters; punctuation, ASCII symbols and CJK characters are words of their own.
  std::vector<std::string> words(1);
  for (uint32_t cp : decompose_to_base(text)) {
    if (is_whitespace(cp)) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cp == 0 || cp == 0xFFFD || in_category(cp, "C")) continue;
    std::string lower;
    utf8_append(lower, to_lower(cp));
    if (is_punctuation(cp) || (cp < 0x7F && in_category(cp, "S")) || is_chinese_char(cp)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = lower;
      words.emplace_back();
    } else {
      words.back() += lower;
    }
  }
  for (const std::string& word : words) {
    if (word.empty()) continue;
    const std::string marked = std::string(kWordMarker) + word;
    const size_t n = marked.size(), start = out.size();
    for (size_t i = 0; i < n; ++i) {
      bool matched = false;
      // Longest vocabulary entry starting at byte i (llama.cpp matches on bytes, not characters).
      for (size_t j = std::min(n, i + max_token_bytes_ + 1); j > i; --j) {
        const int32_t id = vocab_.find(std::string_view(marked).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          matched = true;
          i = j - 1;
          break;
        }
      }
      if (!matched) {
        out.resize(start);
        break;
      }
    }
    if (out.size() == start && vocab_.unk() >= 0) out.push_back(vocab_.unk());
  }
}

std::string WpmTokenizer::normal_piece(int32_t id) const {
  const std::string& text = vocab_.text(id);
  std::string piece;
  for (size_t pos = 0; pos < text.size();) {
    if (text.compare(pos, kWordMarker.size(), kWordMarker) == 0) {
      piece += ' ';
      pos += kWordMarker.size();
    } else {
      piece += text[pos++];
    }
  }
  return piece;
}

}  // namespace fm
