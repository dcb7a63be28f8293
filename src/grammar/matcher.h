#pragma once
// Runs a Grammar as a nondeterministic pushdown automaton: the state is a set of stacks (persistent, sharing
// their tails in an arena), each with a byte-reading element on top, or the empty stack when the document may end
// there. Feeding a byte advances every stack that accepts it; fill_mask walks the vocabulary's byte trie from the
// current state to find every token whose bytes the grammar accepts.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"

namespace fm {

class TokenTrie;

class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const Grammar> grammar);

  // Feeds bytes; false (and the state unchanged) when the grammar rejects them.
  bool advance(std::string_view bytes);
  // The document is complete here (end of sequence allowed).
  bool accepting() const;
  // Nothing more may be read (complete, and no byte continues it).
  bool finished() const;
  // Sets bit id of `allowed` (vocab_size bits, zeroed by the caller) for every token of `trie` whose bytes the
  // grammar accepts from the current state. Returns the number of trie nodes visited.
  size_t fill_mask(const TokenTrie& trie, uint64_t* allowed);

  const Grammar& grammar() const { return *grammar_; }

 private:
  struct Frame {
    uint32_t pos;    // element index in the grammar
    uint32_t count;  // kRepeat: iterations so far; kNumber: the id of the prefix read so far
  };
  struct Node {
    Frame frame;
    uint32_t below;
  };
  static constexpr uint32_t kEmptyStack = 0xFFFFFFFFu;  // the stack below the bottom frame
  static constexpr uint32_t kAccept = 0xFFFFFFFEu;      // a state member: the document may end

  uint32_t push(uint32_t below, Frame f);
  void closure(uint32_t node, std::vector<uint32_t>& out, int depth);
  // `to` = the stacks of `from` after reading `byte`, deduplicated.
  void step(const std::vector<uint32_t>& from, uint8_t byte, std::vector<uint32_t>& to);
  void dedup(std::vector<uint32_t>& stacks) const;
  bool same_stack(uint32_t a, uint32_t b) const;
  uint32_t intern_prefix(std::string prefix);
  bool number_done(uint32_t spec, uint32_t prefix);
  void compact();

  std::shared_ptr<const Grammar> grammar_;
  std::vector<Node> nodes_;       // the arena; nodes past the committed state's are scratch
  std::vector<uint32_t> state_;   // stack tops (or kAccept)
  std::vector<std::string> prefixes_;  // number prefixes by id
  std::unordered_map<std::string, uint32_t> prefix_ids_;
  std::vector<std::vector<uint32_t>> scratch_;  // per trie depth
};

}  // namespace fm
