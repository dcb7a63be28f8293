#pragma once
// SentencePiece-style BPE as llama.cpp's "llama" tokenizer model: spaces become U+2581, an optional leading
// space, greedy merges of the adjacent pair whose merged piece has the best score, byte fallback.
#include "tokenizer/tokenizer.h"

namespace fm {

class SpmTokenizer : public Tokenizer {
 public:
  explicit SpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {}
  std::vector<int32_t> encode(std::string_view text, bool add_special) const override;
  std::string token_to_piece(int32_t id) const override;

 private:
  void encode_fragment(std::string_view text, std::vector<int32_t>& out) const;
};

}  // namespace fm
