#pragma once
// The vocabulary as a byte trie, built once per tokenizer: the mask walk feeds each trie edge to the matcher once,
// so tokens sharing a prefix share its work, and a rejected byte prunes every token below it.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace fm {

class Tokenizer;

class TokenTrie {
 public:
  // token_bytes[id]: the bytes token id stands for in generated text; empty for tokens that never appear in
  // constrained output (control tokens).
  explicit TokenTrie(const std::vector<std::string>& token_bytes);
  static TokenTrie from_tokenizer(const Tokenizer& tokenizer);

  struct Node {
    uint8_t byte = 0;
    bool plain = false;         // this byte and every byte below it are plain text (see is_plain)
    uint16_t reach = 0;         // the most bytes from this node (included) down to a token's end
    bool text = false;  // starts at a character boundary, and every byte below is plain or part of valid UTF-8
    uint16_t text_reach = 0;  // the most characters (complete or begun) from this node down to a token's end
    uint32_t end = 0;           // one past the last node of this subtree (nodes are in depth-first order)
    uint32_t tokens_begin = 0;  // tokens ending here: token_ids()[tokens_begin, tokens_end)
    uint32_t tokens_end = 0;
    uint32_t subtree_tokens_end = 0;  // tokens ending in this subtree: token_ids()[tokens_begin, subtree_tokens_end)
  };
  // Printable ASCII that a JSON string holds as itself (not '"' or '\'): inside free text a grammar usually
  // loops on these, so a subtree made only of them can be allowed whole.
  static bool is_plain(uint8_t b) { return b >= 0x20 && b <= 0x7E && b != '"' && b != '\\'; }
  // A strict UTF-8 decoder's state after `byte` (0: between characters, 1..7: inside one), or -1 (invalid).
  static int utf8_next(int state, uint8_t byte);
  const std::vector<Node>& nodes() const { return nodes_; }  // nodes()[0] is the root (no byte)
  const std::vector<int32_t>& token_ids() const { return token_ids_; }  // by trie position
  // A token's index in token_ids() (its trie position), or -1 for tokens without bytes.
  int32_t position(int32_t id) const { return id >= 0 && id < vocab_size_ ? position_[static_cast<size_t>(id)] : -1; }
  const std::vector<int32_t>& absent_ids() const { return absent_; }  // tokens without bytes
  const std::vector<int32_t>& whitespace_ids() const { return whitespace_; }  // tokens of spaces, tabs, line breaks
  int32_t vocab_size() const { return vocab_size_; }
  const std::string& bytes(int32_t id) const { return bytes_[static_cast<size_t>(id)]; }

 private:
  std::vector<Node> nodes_;
  std::vector<int32_t> token_ids_;
  std::vector<int32_t> position_;
  std::vector<int32_t> absent_;
  std::vector<int32_t> whitespace_;
  std::vector<std::string> bytes_;
  int32_t vocab_size_ = 0;
};

// The tokens a grammar allows now, one bit per trie position: a subtree of the trie is a run of bits, so allowing
// it whole costs a word per 64 tokens.
class TokenMask {
 public:
  explicit TokenMask(const TokenTrie& trie) : trie_(&trie), bits_((trie.token_ids().size() + 63) / 64) {}
  void clear() { std::fill(bits_.begin(), bits_.end(), 0); }
  void allow_positions(uint32_t begin, uint32_t end);
  bool allows(int32_t id) const {
    const int32_t p = trie_->position(id);
    return p >= 0 && ((bits_[static_cast<size_t>(p) >> 6] >> (p & 63)) & 1);
  }
  size_t count() const;
  const TokenTrie& trie() const { return *trie_; }
  std::vector<uint64_t>& bits() { return bits_; }
  const std::vector<uint64_t>& bits() const { return bits_; }

 private:
  const TokenTrie* trie_;
  std::vector<uint64_t> bits_;
};

// Token ids whose bytes spell exactly `doc`: the tokenizer's split, except that a space a SentencePiece tokenizer
// puts before the text is taken back off the first token (generated output starts where the model starts).
std::vector<int32_t> tokenize_document(const Tokenizer& tokenizer, const std::string& doc);

}  // namespace fm
