#pragma once
// SentencePiece-style BPE as llama.cpp's "llama" tokenizer model: spaces become U+2581, an optional leading
// space, greedy merges of the adjacent pair whose merged piece has the best score, byte fallback.
#include "tokenizer/tokenizer.h"

namespace fm {

class SpmTokenizer : public Tokenizer {
 public:
  explicit SpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {}

 protected:
  void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;
  std::string normal_piece(int32_t id) const override;
};

}  // namespace fm
