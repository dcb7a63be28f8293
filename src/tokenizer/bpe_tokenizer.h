#pragma once
// Byte-level BPE (GPT-2 style; Llama 3, Qwen2/3, DeepSeek, Falcon, StarCoder, ...): pre-tokenize, map each byte
// to a printable code point, then merge adjacent symbols by merge rank (lowest first).
#include <string>
#include <unordered_map>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace fm {

class BpeTokenizer : public Tokenizer {
 public:
  explicit BpeTokenizer(Vocab vocab);

 protected:
  void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;
  std::string normal_piece(int32_t id) const override;

 private:
  void encode_word(const std::string& word, std::vector<int32_t>& out) const;
  int merge_rank(std::string_view left, std::string_view right) const;

  PreTokenizer pre_;
  bool ignore_merges_;  // a word that is itself a token is not merged (Llama 3)
  std::unordered_map<std::string, int> ranks_;  // "left right" -> rank
};

}  // namespace fm
