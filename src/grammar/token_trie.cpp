#include "grammar/token_trie.h"

#include <algorithm>
#include <numeric>

#include "tokenizer/tokenizer.h"

namespace fm {

TokenTrie::TokenTrie(const std::vector<std::string>& token_bytes)
    : bytes_(token_bytes), vocab_size_(static_cast<int32_t>(token_bytes.size())) {
  std::vector<int32_t> order;
  for (int32_t i = 0; i < vocab_size_; ++i)
    if (!bytes_[static_cast<size_t>(i)].empty()) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const auto& x = bytes_[static_cast<size_t>(a)];
    const auto& y = bytes_[static_cast<size_t>(b)];
    return x != y ? x < y : a < b;
  });
  nodes_.push_back(Node{});
  std::vector<uint32_t> path{0};  // open nodes from the root; path[d] is at depth d
  std::vector<uint32_t> parent{0}, depth{0};
  const std::string* prev = nullptr;
  auto close_to = [&](size_t depth) {
    while (path.size() > depth + 1) {
      nodes_[path.back()].end = static_cast<uint32_t>(nodes_.size());
      path.pop_back();
    }
  };
  for (int32_t id : order) {
    const std::string& s = bytes_[static_cast<size_t>(id)];
    size_t common = 0;
    if (prev) {
      const size_t n = std::min(prev->size(), s.size());
      while (common < n && (*prev)[common] == s[common]) ++common;
    }
    close_to(common);
    for (size_t d = path.size() - 1; d < s.size(); ++d) {
      Node node;
      node.byte = static_cast<uint8_t>(s[d]);
      node.tokens_begin = node.tokens_end = static_cast<uint32_t>(token_ids_.size());
      nodes_.push_back(node);
      parent.push_back(path.back());
      depth.push_back(static_cast<uint32_t>(path.size()));
      path.push_back(static_cast<uint32_t>(nodes_.size() - 1));
    }
    Node& last = nodes_[path.back()];
    if (last.tokens_end == last.tokens_begin) last.tokens_begin = last.tokens_end = static_cast<uint32_t>(token_ids_.size());
    token_ids_.push_back(id);
    last.tokens_end = static_cast<uint32_t>(token_ids_.size());
    prev = &s;
  }
  close_to(0);
  nodes_[0].end = static_cast<uint32_t>(nodes_.size());
  // A subtree is plain when no byte in it is not: the first non-plain node at or after it lies past its end.
  const size_t n = nodes_.size();
  std::vector<uint32_t> next_not_plain(n + 1, static_cast<uint32_t>(n));
  for (size_t i = n; i-- > 1;) next_not_plain[i] = is_plain(nodes_[i].byte) ? next_not_plain[i + 1] : static_cast<uint32_t>(i);
  // Text subtrees: from a character boundary, plain ASCII and well-formed multi-byte characters only.
  std::vector<int> utf8(n, 0);
  for (size_t i = 1; i < n; ++i) utf8[i] = utf8[parent[i]] < 0 ? -1 : utf8_next(utf8[parent[i]], nodes_[i].byte);
  std::vector<uint32_t> next_not_text(n + 1, static_cast<uint32_t>(n));
  for (size_t i = n; i-- > 1;) {
    const uint8_t b = nodes_[i].byte;
    const bool ok = utf8[i] >= 0 && (is_plain(b) || b >= 0x80);
    next_not_text[i] = ok ? next_not_text[i + 1] : static_cast<uint32_t>(i);
  }
  std::vector<uint32_t> deepest(depth);  // the deepest node's depth in each subtree
  for (size_t i = n; i-- > 1;) deepest[parent[i]] = std::max(deepest[parent[i]], deepest[i]);
  // Characters begun on the path to each node (a byte that is not a continuation byte begins one), and the most
  // below each node.
  std::vector<uint32_t> chars(n, 0);
  for (size_t i = 1; i < n; ++i) chars[i] = chars[parent[i]] + ((nodes_[i].byte & 0xC0) != 0x80 ? 1 : 0);
  std::vector<uint32_t> most_chars(chars);
  for (size_t i = n; i-- > 1;) most_chars[parent[i]] = std::max(most_chars[parent[i]], most_chars[i]);
  for (size_t i = 1; i < n; ++i) {
    Node& node = nodes_[i];
    node.plain = next_not_plain[i] >= node.end;
    node.text = utf8[parent[i]] == 0 && next_not_text[i] >= node.end;
    node.reach = static_cast<uint16_t>(std::min<uint32_t>(deepest[i] - depth[i] + 1, 0xFFFF));
    node.text_reach = static_cast<uint16_t>(std::min<uint32_t>(most_chars[i] - chars[parent[i]], 0xFFFF));
    node.subtree_tokens_end = node.end < n ? nodes_[node.end].tokens_begin : static_cast<uint32_t>(token_ids_.size());
  }
  nodes_[0].subtree_tokens_end = static_cast<uint32_t>(token_ids_.size());
  position_.assign(static_cast<size_t>(vocab_size_), -1);
  for (size_t p = 0; p < token_ids_.size(); ++p) position_[static_cast<size_t>(token_ids_[p])] = static_cast<int32_t>(p);
  for (int32_t id = 0; id < vocab_size_; ++id) {
    const std::string& b = bytes_[static_cast<size_t>(id)];
    if (position_[static_cast<size_t>(id)] < 0) absent_.push_back(id);
    else if (b.find_first_not_of(" \t\r\n") == std::string::npos) whitespace_.push_back(id);
  }
}

void TokenMask::allow_positions(uint32_t begin, uint32_t end) {
  if (begin >= end) return;
  const uint32_t first = begin >> 6, last = (end - 1) >> 6;
  const uint64_t head = ~uint64_t{0} << (begin & 63);
  const uint64_t tail = ~uint64_t{0} >> (63 - ((end - 1) & 63));
  if (first == last) {
    bits_[first] |= head & tail;
    return;
  }
  bits_[first] |= head;
  for (uint32_t w = first + 1; w < last; ++w) bits_[w] = ~uint64_t{0};
  bits_[last] |= tail;
}

size_t TokenMask::count() const {
  size_t n = 0;
  for (uint64_t w : bits_) n += static_cast<size_t>(__builtin_popcountll(w));
  return n;
}

int TokenTrie::utf8_next(int state, uint8_t b) {
  switch (state) {
    case 0:
      if (b < 0x80) return 0;
      if (b >= 0xC2 && b <= 0xDF) return 1;
      if (b == 0xE0) return 2;
      if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return 3;
      if (b == 0xED) return 4;
      if (b == 0xF0) return 5;
      if (b >= 0xF1 && b <= 0xF3) return 6;
      if (b == 0xF4) return 7;
      return -1;
    case 1: return b >= 0x80 && b <= 0xBF ? 0 : -1;
    case 2: return b >= 0xA0 && b <= 0xBF ? 1 : -1;
    case 3: return b >= 0x80 && b <= 0xBF ? 1 : -1;
    case 4: return b >= 0x80 && b <= 0x9F ? 1 : -1;  // no surrogates
    case 5: return b >= 0x90 && b <= 0xBF ? 3 : -1;
    case 6: return b >= 0x80 && b <= 0xBF ? 3 : -1;
    case 7: return b >= 0x80 && b <= 0x8F ? 3 : -1;
    default: return -1;
  }
}

TokenTrie TokenTrie::from_tokenizer(const Tokenizer& tokenizer) {
  const Vocab& vocab = tokenizer.vocab();
  std::vector<std::string> bytes(static_cast<size_t>(vocab.size()));
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const TokenKind kind = vocab.kind(id);
    if (kind == TokenKind::kControl || kind == TokenKind::kUnknown || kind == TokenKind::kUnused) continue;
    bytes[static_cast<size_t>(id)] = tokenizer.token_to_piece(id, false);
  }
  return TokenTrie(bytes);
}

std::vector<int32_t> tokenize_document(const Tokenizer& tokenizer, const std::string& doc) {
  std::vector<int32_t> ids = tokenizer.encode(doc, false, false);
  if (ids.empty()) return ids;
  std::string spelled;
  for (int32_t id : ids) spelled += tokenizer.token_to_piece(id);
  if (spelled == doc || spelled != " " + doc) return ids;
  const std::string first = tokenizer.token_to_piece(ids[0]);
  if (first == " ") {
    ids.erase(ids.begin());
    return ids;
  }
  // The first token's text without its space marker, when that is a token of its own.
  const std::string& text = tokenizer.vocab().text(ids[0]);
  const std::string marker = "\xE2\x96\x81";  // U+2581, SentencePiece's space
  if (text.rfind(marker, 0) == 0) {
    const int32_t bare = tokenizer.vocab().find(text.substr(marker.size()));
    if (bare >= 0 && tokenizer.token_to_piece(bare) == first.substr(1)) ids[0] = bare;
  }
  return ids;
}

}  // namespace fm
