#include "tokenizer/bpe_tokenizer.h"

#include <queue>

#include "tokenizer/unicode.h"

namespace fm {

BpeOptions BpeOptions::for_gguf_pre(const std::string& pre) {
  BpeOptions o;
  for (const std::string& pattern : PreTokenizer::gguf_patterns(pre)) o.pre_tokenizer.push_back({pattern});
  o.ignore_merges = pre == "llama3" || pre == "llama-bpe";
  return o;
}

BpeTokenizer::BpeTokenizer(Vocab vocab, BpeOptions options)
    : Tokenizer(std::move(vocab)), options_(std::move(options)), pre_(options_.pre_tokenizer) {
  ranks_.reserve(vocab_.merges().size());
  for (size_t i = 0; i < vocab_.merges().size(); ++i) ranks_.emplace(vocab_.merges()[i], static_cast<int>(i));
}

int BpeTokenizer::merge_rank(std::string_view left, std::string_view right) const {
  thread_local std::string key;
  key.assign(left);
  key += ' ';
  key += right;
  auto it = ranks_.find(key);
  return it == ranks_.end() ? -1 : it->second;
}

void BpeTokenizer::encode_text(std::string_view raw, bool, std::vector<int32_t>& out) const {
  std::string normalized;
  std::string_view text = raw;
  if (options_.normalizer == BpeOptions::Normalizer::kNfc) {
    normalized = nfc(raw);
    text = normalized;
  } else if (options_.normalizer == BpeOptions::Normalizer::kSpaceToMarker) {
    for (char c : raw) {
      if (c == ' ') normalized += "\xE2\x96\x81";
      else normalized += c;
    }
    text = normalized;
  }
  if (options_.byte_level && options_.add_prefix_space && !text.empty() && text[0] != ' ') {
    std::string prefixed = " ";
    prefixed += text;
    normalized = std::move(prefixed);
    text = normalized;
  }
  std::string word;
  for (const auto& [begin, end] : pre_.split(text)) {
    word.clear();
    if (options_.byte_level) {
      for (size_t i = begin; i < end; ++i) utf8_append(word, byte_to_unicode(static_cast<uint8_t>(text[i])));
    } else {
      word.assign(text.substr(begin, end - begin));
    }
    encode_word(word, out);
  }
}

void BpeTokenizer::encode_word(const std::string& word, std::vector<int32_t>& out) const {
  if (options_.ignore_merges) {
    const int32_t whole = vocab_.find(word);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  struct Symbol {
    int prev, next;
    size_t begin, len;
  };
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < word.size();) {
    size_t len;
    utf8_decode(word, pos, &len);
    const int idx = static_cast<int>(symbols.size());
    symbols.push_back({idx - 1, idx + 1, pos, len});
    pos += len;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  struct Pair {
    int rank, left, right;
    size_t len;
    bool operator<(const Pair& o) const { return rank > o.rank || (rank == o.rank && left > o.left); }  // min-heap
  };
  std::priority_queue<Pair> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view l(word.data() + symbols[left].begin, symbols[left].len);
    const std::string_view r(word.data() + symbols[right].begin, symbols[right].len);
    const int rank = merge_rank(l, r);
    if (rank >= 0) queue.push({rank, left, right, l.size() + r.size()});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!queue.empty()) {
    const Pair p = queue.top();
    queue.pop();
    Symbol& left = symbols[p.left];
    Symbol& right = symbols[p.right];
    if (left.len == 0 || right.len == 0 || left.next != p.right || left.len + right.len != p.len) continue;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = p.left;
    try_add(left.prev, p.left);
    try_add(p.left, left.next);
  }

  bool last_was_unk = false;
  auto push_unk = [&] {
    if (vocab_.unk() < 0 || (options_.fuse_unk && last_was_unk)) return;
    out.push_back(vocab_.unk());
    last_was_unk = true;
  };
  for (int i = 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece(word.data() + symbols[i].begin, symbols[i].len);
    const int32_t id = vocab_.find(piece);
    if (id >= 0) {
      out.push_back(id);
      last_was_unk = false;
      continue;
    }
    if (options_.byte_fallback) {
      bool all_bytes = true;
      for (unsigned char b : piece) all_bytes &= vocab_.byte_token(b) >= 0;
      if (all_bytes) {
        for (unsigned char b : piece) out.push_back(vocab_.byte_token(b));
        last_was_unk = false;
        continue;
      }
      push_unk();
      continue;
    }
    // Not a token: fall back to the symbol's single characters (or <unk>).
    for (size_t pos = 0; pos < piece.size();) {
      size_t len;
      utf8_decode(piece, pos, &len);
      const int32_t ch = vocab_.find(piece.substr(pos, len));
      if (ch >= 0) {
        out.push_back(ch);
        last_was_unk = false;
      } else {
        push_unk();
      }
      pos += len;
    }
  }
}

namespace {
std::string markers_to_spaces(const std::string& text) {
  std::string piece;
  for (size_t pos = 0; pos < text.size();) {
    if (text.compare(pos, 3, "\xE2\x96\x81") == 0) {
      piece += ' ';
      pos += 3;
    } else {
      piece += text[pos++];
    }
  }
  return piece;
}
}  // namespace

std::string BpeTokenizer::user_defined_piece(int32_t id) const {
  // The decoder that turns U+2581 back into spaces applies to added tokens too (Gemma's whitespace runs).
  if (options_.normalizer == BpeOptions::Normalizer::kSpaceToMarker) return markers_to_spaces(vocab_.text(id));
  return vocab_.text(id);
}

std::string BpeTokenizer::normal_piece(int32_t id) const {
  const std::string& text = vocab_.text(id);
  if (!options_.byte_level) {
    if (vocab_.kind(id) == TokenKind::kByte && text.size() == 6 && text.compare(0, 3, "<0x") == 0)
      return std::string(1, static_cast<char>(std::stoi(text.substr(3, 2), nullptr, 16)));
    return markers_to_spaces(text);
  }
  std::string bytes;
  bytes.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t len;
    const uint32_t cp = utf8_decode(text, pos, &len);
    const int b = unicode_to_byte(cp);
    if (b >= 0) bytes += static_cast<char>(b);
    else bytes.append(text, pos, len);
    pos += len;
  }
  return bytes;
}

}  // namespace fm
