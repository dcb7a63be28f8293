#pragma once
// WordPiece as llama.cpp's "bert" tokenizer model: NFD, lower-case, split on white space and around punctuation,
// symbols and CJK characters, then greedy longest-match of "▁word" pieces; a word with no full match is <unk>.
#include "tokenizer/tokenizer.h"

namespace fm {

class WpmTokenizer : public Tokenizer {
 public:
  explicit WpmTokenizer(Vocab vocab);

 protected:
  void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;
  std::string normal_piece(int32_t id) const override;

 private:
  size_t max_token_bytes_ = 0;
};

}  // namespace fm
