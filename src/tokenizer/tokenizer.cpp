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
    if (vocab_.text(id).empty()) continue;
    if (k == TokenKind::kUserDefined) user_defined_.add(vocab_.text(id), id);
    if (k == TokenKind::kControl || k == TokenKind::kUserDefined || k == TokenKind::kUnknown) all_special_.add(vocab_.text(id), id);
  }
}

void Tokenizer::SpecialTrie::add(const std::string& text, int32_t token) {
  int32_t node = 0;
  for (unsigned char c : text) {
    auto& kids = nodes[static_cast<size_t>(node)].children;
    auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(c, int32_t{-1}),
                               [](const auto& a, const auto& b) { return a.first < b.first; });
    if (it != kids.end() && it->first == c) {
      node = it->second;
    } else {
      const int32_t next = static_cast<int32_t>(nodes.size());
      kids.insert(it, {c, next});
      nodes.emplace_back();
      node = next;
    }
  }
  if (nodes[static_cast<size_t>(node)].token < 0) nodes[static_cast<size_t>(node)].token = token;  // first id wins
  starts[static_cast<unsigned char>(text[0])] = true;
}

size_t Tokenizer::SpecialTrie::longest_at(std::string_view text, size_t pos, int32_t* token) const {
  size_t best = 0;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto& kids = nodes[static_cast<size_t>(node)].children;
    const unsigned char c = static_cast<unsigned char>(text[i]);
    auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(c, int32_t{-1}),
                               [](const auto& a, const auto& b) { return a.first < b.first; });
    if (it == kids.end() || it->first != c) break;
    node = it->second;
    if (nodes[static_cast<size_t>(node)].token >= 0) {
      best = i + 1 - pos;
      *token = nodes[static_cast<size_t>(node)].token;
    }
  }
  return best;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  // Special tokens are matched leftmost-longest in one pass (as Hugging Face's added-token matcher does); the text
  // between them is tokenized normally.
  const SpecialTrie& trie = parse_special ? all_special_ : user_defined_;
  std::vector<int32_t> out;
  if (add_special && vocab_.add_bos() && vocab_.bos() >= 0) out.push_back(vocab_.bos());
  bool after_special = true;
  size_t run_start = 0;
  for (size_t pos = 0; pos < text.size();) {
    int32_t token = -1;
    const size_t len = trie.starts[static_cast<unsigned char>(text[pos])] ? trie.longest_at(text, pos, &token) : 0;
    if (len == 0) {
      ++pos;
      continue;
    }
    if (pos > run_start) {
      encode_text(text.substr(run_start, pos - run_start), after_special, out);
    }
    out.push_back(token);
    after_special = true;
    pos += len;
    run_start = pos;
  }
  if (run_start < text.size()) encode_text(text.substr(run_start), after_special, out);
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
