#include "tokenizer/clip_tokenizer.h"

#include <climits>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tokenizer/unicode.h"
#include "util/read_file.h"

namespace fm {
namespace {

constexpr const char* kPattern =
    R"((?i:<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+))";
constexpr size_t kCacheLimit = 1 << 16;

// Whitespace runs become one space, the ends are trimmed, letters are lower-cased.
std::vector<uint32_t> clean(std::string_view text) {
  std::vector<uint32_t> cps, offsets;
  utf8_split(text, &cps, &offsets);
  std::vector<uint32_t> out;
  bool space = false;
  for (uint32_t cp : cps) {
    if (is_whitespace(cp)) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(to_lower(cp));
  }
  return out;
}

}  // namespace

ClipTokenizer::ClipTokenizer(std::string_view vocab_json, std::string_view merges_txt) : pattern_(kPattern) {
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(vocab_json);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("vocab.json is not valid JSON: ") + e.what());
  }
  if (!vocab.is_object() || vocab.empty()) throw std::invalid_argument("vocab.json must be an object of token -> id");
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      throw std::invalid_argument("vocab.json: the id of '" + token + "' is not a non-negative integer");
    vocab_[token] = id.get<int32_t>();
  }
  const auto special = [&](const char* name) {
    const auto it = vocab_.find(name);
    if (it == vocab_.end()) throw std::invalid_argument(std::string("vocab.json has no ") + name);
    return it->second;
  };
  bos_ = special("<|startoftext|>");
  eos_ = special("<|endoftext|>");
  int32_t rank = 0;
  size_t pos = 0;
  while (pos < merges_txt.size()) {
    size_t end = merges_txt.find('\n', pos);
    if (end == std::string_view::npos) end = merges_txt.size();
    std::string_view line = merges_txt.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;  // "#version: 0.2"
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      throw std::invalid_argument("merges.txt line " + std::to_string(rank + 1) + " is not two symbols");
    ranks_.emplace(std::string(line), rank++);
  }
  if (ranks_.empty()) throw std::invalid_argument("merges.txt holds no merges");
}

ClipTokenizer ClipTokenizer::from_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path d(dir);
  if (!fs::exists(d / "vocab.json") && fs::exists(d / "tokenizer" / "vocab.json")) d /= "tokenizer";
  if (!fs::exists(d / "vocab.json") || !fs::exists(d / "merges.txt"))
    throw std::invalid_argument("no CLIP tokenizer in '" + dir + "' (vocab.json and merges.txt)");
  return ClipTokenizer(read_file((d / "vocab.json").string()), read_file((d / "merges.txt").string()));
}

std::string ClipTokenizer::directory_beside(const std::string& checkpoint) {
  namespace fs = std::filesystem;
  const fs::path base = fs::absolute(checkpoint).parent_path();
  for (const fs::path& d : {base, base / "tokenizer", base.parent_path() / "tokenizer"})
    if (fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt")) return d.string();
  return {};
}

void ClipTokenizer::bpe(const std::string& word, std::vector<int32_t>& out) const {
  const auto cached = cache_.find(word);
  if (cached != cache_.end()) {
    out.insert(out.end(), cached->second.begin(), cached->second.end());
    return;
  }
  // Symbols: the byte-mapped characters, the last one carrying the end-of-word marker.
  std::vector<std::string> symbols;
  for (unsigned char c : word) {
    std::string s;
    utf8_append(s, byte_to_unicode(c));
    symbols.push_back(std::move(s));
  }
  symbols.back() += "</w>";
  // Merge the lowest-ranked adjacent pair everywhere it occurs, until no pair has a rank (OpenAI's loop).
  while (symbols.size() > 1) {
    int32_t best = INT32_MAX;
    std::string best_left, best_right;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = ranks_.find(symbols[i] + " " + symbols[i + 1]);
      if (it != ranks_.end() && it->second < best) {
        best = it->second;
        best_left = symbols[i];
        best_right = symbols[i + 1];
      }
    }
    if (best == INT32_MAX) break;
    std::vector<std::string> merged;
    for (size_t i = 0; i < symbols.size();) {
      if (i + 1 < symbols.size() && symbols[i] == best_left && symbols[i + 1] == best_right) {
        merged.push_back(symbols[i] + symbols[i + 1]);
        i += 2;
      } else {
        merged.push_back(symbols[i++]);
      }
    }
    symbols = std::move(merged);
  }
  std::vector<int32_t> ids;
  for (const std::string& s : symbols) {
    const auto it = vocab_.find(s);
    if (it == vocab_.end()) throw std::invalid_argument("CLIP vocabulary has no symbol '" + s + "'");
    ids.push_back(it->second);
  }
  out.insert(out.end(), ids.begin(), ids.end());
  if (cache_.size() >= kCacheLimit) cache_.clear();
  cache_.emplace(word, std::move(ids));
}

std::vector<int32_t> ClipTokenizer::encode(std::string_view text) const {
  const std::vector<uint32_t> cps = clean(text);
  std::vector<std::pair<int64_t, int64_t>> pieces;
  pattern_.find_all(cps.data(), 0, static_cast<int64_t>(cps.size()), pieces);
  std::vector<int32_t> out;
  for (const auto& [b, e] : pieces) {
    std::string word;
    for (int64_t i = b; i < e; ++i) utf8_append(word, cps[static_cast<size_t>(i)]);
    if (word == "<|startoftext|>" || word == "<|endoftext|>") {
      out.push_back(word == "<|startoftext|>" ? bos_ : eos_);
      continue;
    }
    bpe(word, out);
  }
  return out;
}

std::vector<std::vector<int32_t>> ClipTokenizer::windows(std::string_view text, int context, int32_t pad_id) const {
  if (context < 3) throw std::invalid_argument("a CLIP window holds at least 3 ids");
  const std::vector<int32_t> ids = encode(text);
  const size_t per_window = static_cast<size_t>(context - 2);
  std::vector<std::vector<int32_t>> out;
  for (size_t start = 0; start < ids.size() || out.empty(); start += per_window) {
    std::vector<int32_t> w{bos_};
    for (size_t i = start; i < ids.size() && i < start + per_window; ++i) w.push_back(ids[i]);
    w.push_back(eos_);
    w.resize(static_cast<size_t>(context), pad_id < 0 ? eos_ : pad_id);
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace fm
