#include "tokenizer/spm_tokenizer.h"

#include <queue>

namespace fm {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

size_t utf8_char_len(unsigned char first) {
  if (first < 0x80) return 1;
  if ((first & 0xE0) == 0xC0) return 2;
  if ((first & 0xF0) == 0xE0) return 3;
  if ((first & 0xF8) == 0xF0) return 4;
  return 1;  // stray continuation or invalid byte: a symbol of its own
}

struct Symbol {
  int prev, next;
  size_t begin, len;  // into the escaped text
};

struct Bigram {
  float score;
  int left, right;
  size_t len;  // merged length when queued; a changed length means the entry is stale
  bool operator<(const Bigram& o) const {  // priority_queue pops the largest: best score, then leftmost
    return score < o.score || (score == o.score && left > o.left);
  }
};

}  // namespace

void SpmTokenizer::encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const {
  std::string escaped;
  escaped.reserve(text.size() * 2 + 3);
  if (vocab_.add_space_prefix() && after_special) escaped += kSpaceMarker;
  for (char c : text) {
    if (c == ' ') escaped += kSpaceMarker;
    else escaped += c;
  }

  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < escaped.size();) {
    size_t len = std::min(utf8_char_len(static_cast<unsigned char>(escaped[pos])), escaped.size() - pos);
    int idx = static_cast<int>(symbols.size());
    symbols.push_back({idx - 1, idx + 1, pos, len});
    pos += len;
  }
  if (!symbols.empty()) symbols.back().next = -1;

  std::priority_queue<Bigram> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    std::string_view merged(escaped.data() + symbols[left].begin, symbols[left].len + symbols[right].len);
    int32_t id = vocab_.find(merged);
    if (id < 0) return;
    queue.push({vocab_.score(id), left, right, merged.size()});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    // Skip pairs where either side changed since they were queued.
    if (left.len == 0 || right.len == 0 || left.next != b.right || left.len + right.len != b.len) continue;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    std::string_view piece(escaped.data() + symbols[i].begin, symbols[i].len);
    int32_t id = vocab_.find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (unsigned char byte : piece) {
      int32_t bt = vocab_.byte_token(byte);
      if (bt >= 0) out.push_back(bt);
      else if (vocab_.unk() >= 0) out.push_back(vocab_.unk());
    }
  }
}

std::string SpmTokenizer::normal_piece(int32_t id) const {
  const std::string& text = vocab_.text(id);
  switch (vocab_.kind(id)) {
    case TokenKind::kByte:
      if (text.size() == 6 && text.compare(0, 3, "<0x") == 0)
        return std::string(1, static_cast<char>(std::stoi(text.substr(3, 2), nullptr, 16)));
      return text;
    case TokenKind::kUnknown: return "\xE2\x96\x85";  // U+2585, as llama.cpp shows an unknown token
    default: {
      std::string piece;
      piece.reserve(text.size());
      for (size_t pos = 0; pos < text.size();) {
        if (text.compare(pos, kSpaceMarker.size(), kSpaceMarker) == 0) {
          piece += ' ';
          pos += kSpaceMarker.size();
        } else {
          piece += text[pos++];
        }
      }
      return piece;
    }
  }
}

}  // namespace fm
