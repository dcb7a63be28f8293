#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <atomic>

#include "tokenizer/unicode.h"

namespace fm {

BpeOptions BpeOptions::for_gguf_pre(const std::string& pre) {
  BpeOptions o;
  for (const std::string& pattern : PreTokenizer::gguf_patterns(pre)) o.pre_tokenizer.push_back({pattern});
  o.ignore_merges = pre == "llama3" || pre == "llama-bpe";
  return o;
}

namespace {
constexpr uint64_t kEmpty = ~uint64_t{0};
// Words cached per thread before the cache is reset: ~1 MiB per thread at most, so a server's resident size does not
// grow with the variety of text its handler threads have seen.
constexpr size_t kWordCacheLimit = 4096;
std::atomic<uint64_t> g_next_generation{1};

uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return k;
}

// Encoded words of the most recently used tokenizer on this thread: real text repeats words constantly.
struct WordCache {
  uint64_t generation = 0;
  std::unordered_map<std::string, std::vector<int32_t>> words;
};
thread_local WordCache t_word_cache;
}  // namespace

void BpeTokenizer::MergeTable::build(const std::vector<std::pair<uint64_t, Merge>>& entries) {
  size_t capacity = 16;
  while (capacity < entries.size() * 2) capacity <<= 1;
  keys_.assign(capacity, kEmpty);
  values_.assign(capacity, Merge{});
  mask_ = capacity - 1;
  for (const auto& [key, merge] : entries) {
    for (uint64_t slot = mix(key) & mask_;; slot = (slot + 1) & mask_) {
      if (keys_[slot] == key) break;  // keep the first (lowest-rank) entry
      if (keys_[slot] == kEmpty) {
        keys_[slot] = key;
        values_[slot] = merge;
        break;
      }
    }
  }
}

const BpeTokenizer::Merge* BpeTokenizer::MergeTable::find(uint64_t key) const {
  for (uint64_t slot = mix(key) & mask_;; slot = (slot + 1) & mask_) {
    if (keys_[slot] == key) return &values_[slot];
    if (keys_[slot] == kEmpty) return nullptr;
  }
}

BpeTokenizer::BpeTokenizer(Vocab vocab, BpeOptions options)
    : Tokenizer(std::move(vocab)),
      options_(std::move(options)),
      pre_(options_.pre_tokenizer),
      cache_generation_(g_next_generation.fetch_add(1)) {
  std::vector<std::pair<uint64_t, Merge>> entries;
  entries.reserve(vocab_.merges().size());
  std::string joined;
  for (size_t rank = 0; rank < vocab_.merges().size(); ++rank) {
    const auto& [left, right] = vocab_.merges()[rank];
    const int32_t l = vocab_.find(left), r = vocab_.find(right);
    joined = left + right;
    const int32_t result = vocab_.find(joined);
    if (l < 0 || r < 0 || result < 0) continue;  // a merge that cannot produce a token never applies
    entries.emplace_back(pair_key(l, r), Merge{static_cast<int32_t>(rank), result});
  }
  merges_.build(entries);
  std::string ch;
  for (int b = 0; b < 256; ++b) {
    ch.clear();
    utf8_append(ch, byte_to_unicode(static_cast<uint8_t>(b)));
    byte_level_ids_[b] = vocab_.find(ch);
  }
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
  WordCache& cache = t_word_cache;
  if (cache.generation != cache_generation_ || cache.words.size() > kWordCacheLimit) {
    cache.words.clear();
    cache.generation = cache_generation_;
  }
  thread_local std::string key;
  for (const auto& [begin, end] : pre_.split(text)) {
    const std::string_view word = text.substr(begin, end - begin);
    if (word.size() > 64) {  // long runs are rare; caching them only evicts useful entries
      encode_word(word, out);
      continue;
    }
    key.assign(word);
    auto it = cache.words.find(key);
    if (it == cache.words.end()) {
      std::vector<int32_t> ids;
      encode_word(word, ids);
      it = cache.words.emplace(key, std::move(ids)).first;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  // Symbols are token ids; -1 marks a character missing from the vocabulary (kept as its bytes, never merged).
  struct Symbol {
    int32_t id;
    int prev, next;
    uint32_t begin, len;  // bytes of the original word
  };
  struct Candidate {
    int32_t rank, left, left_id, right_id;
    bool operator<(const Candidate& o) const { return rank > o.rank || (rank == o.rank && left > o.left); }  // min-heap
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;
  thread_local std::string mapped;
  symbols.clear();
  heap.clear();

  if (options_.byte_level) {
    if (options_.ignore_merges) {
      mapped.clear();
      for (char c : word) utf8_append(mapped, byte_to_unicode(static_cast<uint8_t>(c)));
      const int32_t whole = vocab_.find(mapped);
      if (whole >= 0) {
        out.push_back(whole);
        return;
      }
    }
    for (size_t i = 0; i < word.size(); ++i) {
      const int idx = static_cast<int>(symbols.size());
      symbols.push_back({byte_level_ids_[static_cast<uint8_t>(word[i])], idx - 1, idx + 1, static_cast<uint32_t>(i), 1});
    }
  } else {
    if (options_.ignore_merges) {
      const int32_t whole = vocab_.find(word);
      if (whole >= 0) {
        out.push_back(whole);
        return;
      }
    }
    for (size_t pos = 0; pos < word.size();) {
      size_t len;
      utf8_decode(word, pos, &len);
      const int idx = static_cast<int>(symbols.size());
      symbols.push_back({vocab_.find(word.substr(pos, len)), idx - 1, idx + 1, static_cast<uint32_t>(pos), static_cast<uint32_t>(len)});
      pos += len;
    }
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  auto try_add = [&](int left) {
    if (left < 0) return;
    const int right = symbols[left].next;
    if (right < 0 || symbols[left].id < 0 || symbols[right].id < 0) return;
    const Merge* m = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    if (!m) return;
    heap.push_back({m->rank, left, symbols[left].id, symbols[right].id});
    std::push_heap(heap.begin(), heap.end());
  };
  for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) try_add(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = symbols[c.left];
    // Stale if either side has merged since: the pair must still be the same two tokens, adjacent.
    if (left.len == 0 || left.id != c.left_id || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    if (right.id != c.right_id) continue;
    left.id = merges_.find(pair_key(c.left_id, c.right_id))->result;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    try_add(left.prev);
    try_add(c.left);
  }

  bool last_was_unk = false;
  for (int i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    if (s.id >= 0) {
      out.push_back(s.id);
      last_was_unk = false;
      continue;
    }
    const std::string_view piece = word.substr(s.begin, s.len);
    bool all_bytes = options_.byte_fallback;
    for (unsigned char b : piece) all_bytes &= vocab_.byte_token(b) >= 0;
    if (all_bytes) {
      for (unsigned char b : piece) out.push_back(vocab_.byte_token(b));
      last_was_unk = false;
    } else if (vocab_.unk() >= 0 && !(options_.fuse_unk && last_was_unk)) {
      out.push_back(vocab_.unk());
      last_was_unk = true;
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
