#pragma once
// Text <-> token ids. One implementation per tokenizer model (SentencePiece-style BPE, byte-level BPE);
// make_tokenizer picks it from the vocabulary. Special tokens are handled here for all of them.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace fm {

class GgufFile;

class Tokenizer {
 public:
  explicit Tokenizer(Vocab vocab);
  virtual ~Tokenizer() = default;

  // add_special: prepend BOS / append EOS as the vocabulary says. parse_special: control tokens written in the
  // text (e.g. "<|im_start|>") become their ids; user-defined tokens are always recognised (as llama.cpp does).
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special = false) const;
  // The bytes a token stands for in generated text; control tokens give their text only when `special`.
  std::string token_to_piece(int32_t id, bool special = false) const;

  const Vocab& vocab() const { return vocab_; }
  bool is_end_of_generation(int32_t id) const { return id == vocab_.eos() || (id >= 0 && id == vocab_.eot()); }

 protected:
  // Tokenizes a run of ordinary text; after_special is true at the start and after a special token.
  virtual void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const = 0;
  // Bytes of an ordinary (normal or byte) token.
  virtual std::string normal_piece(int32_t id) const = 0;
  // Bytes of a user-defined (added, non-special) token: its text, unless the decoder rewrites it.
  virtual std::string user_defined_piece(int32_t id) const { return vocab_.text(id); }

  Vocab vocab_;

 private:
  std::vector<int32_t> special_tokens_;  // control, user-defined and unknown tokens, longest text first
};

// Throws std::runtime_error naming the tokenizer model when it is not supported.
std::unique_ptr<Tokenizer> make_tokenizer(const GgufFile& file);

// Splits a byte stream into complete UTF-8 sequences, holding back an incomplete tail, so streamed text never
// ends in the middle of a character.
class Utf8StreamDecoder {
 public:
  // Appends bytes and returns the longest prefix of the pending bytes that ends on a character boundary.
  std::string push(std::string_view bytes);
  // Whatever is still pending (possibly invalid UTF-8) at the end of the stream.
  std::string flush();

 private:
  std::string pending_;
};

}  // namespace fm
