#pragma once
// The CLIP BPE tokenizer of Stable Diffusion's text encoders, read from the diffusers layout's
// tokenizer/vocab.json + merges.txt: whitespace collapsed, lower-cased, split by CLIP's pattern, byte-level
// symbols with "</w>" on each word's last one, merged by rank. A prompt becomes windows of 77 ids: BOS, up to 75
// text ids, EOS, padding.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/regex.h"

namespace fm {

class ClipTokenizer {
 public:
  // vocab_json and merges_txt hold the files' contents; throws std::invalid_argument on malformed files.
  ClipTokenizer(std::string_view vocab_json, std::string_view merges_txt);
  // Reads DIR/vocab.json and DIR/merges.txt (DIR may also be a model folder with a tokenizer/ subfolder).
  static ClipTokenizer from_directory(const std::string& dir);
  // The folder holding vocab.json + merges.txt beside a checkpoint (its folder, its tokenizer/, or the parent's
  // tokenizer/ as diffusers lays a model out), or "" when there is none.
  static std::string directory_beside(const std::string& checkpoint);

  // The text's ids, without BOS/EOS.
  std::vector<int32_t> encode(std::string_view text) const;
  // The ids in windows of `context` (77): each BOS + up to context - 2 text ids + EOS, padded with pad_id (EOS
  // when negative). An empty text gives one window.
  std::vector<std::vector<int32_t>> windows(std::string_view text, int context = 77, int32_t pad_id = -1) const;

  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  size_t vocab_size() const { return vocab_.size(); }

 private:
  void bpe(const std::string& word, std::vector<int32_t>& out) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int32_t> ranks_;  // "left right" -> merge rank
  int32_t bos_ = -1, eos_ = -1;
  Regex pattern_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;  // not shared across threads
};

}  // namespace fm
