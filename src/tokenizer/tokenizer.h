#pragma once
// Text <-> token ids. One implementation per tokenizer model; make_tokenizer picks it from the vocabulary.
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
  explicit Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}
  virtual ~Tokenizer() = default;

  // add_special: prepend BOS / append EOS as the vocabulary's rules say.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special) const = 0;
  // The bytes a token stands for in generated text (control tokens give nothing).
  virtual std::string token_to_piece(int32_t id) const = 0;

  const Vocab& vocab() const { return vocab_; }
  bool is_end_of_generation(int32_t id) const { return id == vocab_.eos(); }

 protected:
  Vocab vocab_;
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
