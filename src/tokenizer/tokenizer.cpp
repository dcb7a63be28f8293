#include "tokenizer/tokenizer.h"

#include <stdexcept>

#include "gguf/gguf_file.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/wpm_tokenizer.h"

#include <algorithm>

namespace fm {

std::unique_ptr<Tokenizer> make_tokenizer(const GgufFile& file) {
  Vocab vocab = Vocab::from_gguf(file);
  if (vocab.model() == "llama") return std::make_unique<SpmTokenizer>(std::move(vocab));
  if (vocab.model() == "gpt2") {
    BpeOptions options = BpeOptions::for_gguf_pre(vocab.pre());
    return std::make_unique<BpeTokenizer>(std::move(vocab), std::move(options));
  }
  if (vocab.model() == "bert") return std::make_unique<WpmTokenizer>(std::move(vocab));
  throw std::runtime_error("tokenizer model '" + vocab.model() + "' is not supported yet");
}

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  for (int32_t id = 0; id < vocab_.size(); ++id) {
    const TokenKind k = vocab_.kind(id);
    if ((k == TokenKind::kControl || k == TokenKind::kUserDefined || k == TokenKind::kUnknown) && !vocab_.text(id).empty())
      special_tokens_.push_back(id);
  }
  std::stable_sort(special_tokens_.begin(), special_tokens_.end(),
                   [&](int32_t a, int32_t b) { return vocab_.text(a).size() > vocab_.text(b).size(); });
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  // Partition the text at special tokens, longest first (llama.cpp's tokenizer_st_partition): a fragment is either
  // a token id (>= 0) or a run of ordinary text.
  struct Fragment {
    int32_t token;
    size_t begin, len;
  };
  std::vector<Fragment> fragments;
  if (!text.empty()) fragments.push_back({-1, 0, text.size()});
  for (int32_t special : special_tokens_) {
    const TokenKind kind = vocab_.kind(special);
    if (!parse_special && kind != TokenKind::kUserDefined) continue;
    const std::string& needle = vocab_.text(special);
    std::vector<Fragment> next;
    next.reserve(fragments.size());
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.begin;
      const size_t end = f.begin + f.len;
      for (;;) {
        const size_t hit = text.substr(0, end).find(needle, pos);
        if (hit == std::string_view::npos) break;
        if (hit > pos) next.push_back({-1, pos, hit - pos});
        next.push_back({special, hit, needle.size()});
        pos = hit + needle.size();
      }
      if (pos < end) next.push_back({-1, pos, end - pos});
    }
    fragments.swap(next);
  }

  std::vector<int32_t> out;
  if (add_special && vocab_.add_bos() && vocab_.bos() >= 0) out.push_back(vocab_.bos());
  bool after_special = true;
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else {
      encode_text(text.substr(f.begin, f.len), after_special, out);
      after_special = false;
    }
  }
  if (add_special && vocab_.add_eos() && vocab_.eos() >= 0) out.push_back(vocab_.eos());
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool special) const {
  if (id < 0 || id >= vocab_.size()) return {};
  switch (vocab_.kind(id)) {
    case TokenKind::kControl: return special ? vocab_.text(id) : std::string();
    case TokenKind::kUnused: return {};
    case TokenKind::kUserDefined: return user_defined_piece(id);
    default: return normal_piece(id);
  }
}

namespace {
// Bytes a sequence starting with this byte needs, or 0 for a continuation byte.
size_t sequence_length(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xC0) == 0x80) return 0;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;  // invalid lead byte: pass through
}
}  // namespace

std::string Utf8StreamDecoder::push(std::string_view bytes) {
  pending_.append(bytes);
  // Find the start of the last sequence; hold it back only if it is incomplete.
  size_t cut = pending_.size();
  for (size_t back = 1; back <= 4 && back <= pending_.size(); ++back) {
    size_t pos = pending_.size() - back;
    size_t need = sequence_length(static_cast<unsigned char>(pending_[pos]));
    if (need == 0) continue;
    if (need > back) cut = pos;
    break;
  }
  std::string ready = pending_.substr(0, cut);
  pending_.erase(0, cut);
  return ready;
}

std::string Utf8StreamDecoder::flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace fm
