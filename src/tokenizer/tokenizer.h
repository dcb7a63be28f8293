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
  // Byte trie of special-token texts for leftmost-longest matching in one pass over the text.
  struct SpecialTrie {
    struct Node {
      int32_t token = -1;
      std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    };
    std::vector<Node> nodes{Node{}};
    bool starts[256] = {};
    void add(const std::string& text, int32_t token);
    // Length of the longest special token starting at text[pos] (0 if none), and its id.
    size_t longest_at(std::string_view text, size_t pos, int32_t* token) const;
  };
  SpecialTrie user_defined_;  // always recognised
  SpecialTrie all_special_;   // with parse_special: control, unknown and user-defined tokens
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
