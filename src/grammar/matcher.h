#pragma once
// Runs a Grammar as a nondeterministic pushdown automaton: a configuration is a set of stacks (persistent,
// sharing their tails in an arena), each with a byte-reading element on top, or the empty stack when the
// document may end there. Configurations are interned as the states of a lazily built automaton: each state's
// successor on a byte is computed once, so walking the vocabulary's byte trie for a mask costs a table lookup per
// trie edge, a state that loops on plain text lets whole plain subtrees through at once, and a state's mask is
// kept for when the state comes back (inside a long string it does at every token).
#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"

namespace fm {

class TokenMask;
class TokenTrie;

class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const Grammar> grammar);

  // Feeds bytes; false (and the state unchanged) when the grammar rejects them.
  bool advance(std::string_view bytes);
  // Whether `bytes` could be fed now (the state is unchanged either way).
  bool can_advance(std::string_view bytes);
  // The document is complete here (end of sequence allowed).
  bool accepting() const { return states_[current_].accepting; }
  // Nothing more may be read (complete, and no byte continues it).
  bool finished() const { return states_[current_].accepting && states_[current_].tops.size() == 1; }
  // Sets `mask` to the tokens of its trie whose bytes the grammar accepts from the current state. Returns the
  // number of trie nodes visited (0 when the state's mask was kept from before).
  size_t fill_mask(TokenMask& mask);

  const Grammar& grammar() const { return *grammar_; }
  size_t state_count() const { return states_.size(); }

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
  static constexpr uint32_t kAccept = 0xFFFFFFFEu;      // a configuration member: the document may end
  static constexpr int32_t kUnknown = -2, kDead = -1;
  static constexpr int32_t kForever = 0x7FFFFFFF;

  struct State {
    std::vector<uint32_t> tops;  // stack tops (or kAccept), distinct
    bool accepting = false;
    int32_t plain_next = kUnknown;  // the one state every plain byte leads to (TokenTrie::is_plain), or kDead
    int32_t text_next = kUnknown;   // the one state every character of text leads to, or kDead
    // How many plain bytes / characters of text in a row stay alive from here (kForever on a loop), -1 unknown.
    std::array<int32_t, 2> live_run{-1, -1};
    std::vector<int32_t> next;  // successor state per byte class, kUnknown until computed, or kDead
  };

  uint32_t push(uint32_t below, Frame f);
  void closure(uint32_t node, std::vector<uint32_t>& out, int depth);
  // The configurations of `from` after reading `byte`.
  void step(const std::vector<uint32_t>& from, uint8_t byte, std::vector<uint32_t>& to);
  // The state for a configuration (interned); frees the arena above `mark` when the state already exists.
  uint32_t intern(std::vector<uint32_t>& tops, size_t mark);
  int32_t transition(uint32_t state, uint8_t byte);
  int32_t plain_successor(uint32_t state);
  int32_t text_successor(uint32_t state);
  // Every run of `depth` plain bytes (characters of text) from `state` is accepted.
  bool runs_live(uint32_t state, uint32_t depth, bool text);
  int32_t live_run(uint32_t state, bool text);
  uint32_t intern_prefix(std::string prefix);
  bool number_done(uint32_t spec, uint32_t prefix);
  void reset_keeping_current();

  std::shared_ptr<const Grammar> grammar_;
  std::vector<Node> nodes_;  // every state's stacks
  std::vector<State> states_;
  std::unordered_map<std::string, uint32_t> state_ids_;  // canonical configuration -> state
  uint32_t current_ = 0;
  std::vector<std::string> prefixes_;  // number prefixes by id
  std::unordered_map<std::string, uint32_t> prefix_ids_;
  std::vector<uint32_t> scratch_;
  // intern()'s reused buffers.
  struct Span {
    uint32_t begin, length, top;
  };
  std::vector<Frame> frames_buf_;
  std::vector<Span> spans_buf_;
  std::string key_buf_;
  // Masks of recently seen states (most recent first), bounded.
  std::list<std::pair<uint32_t, std::vector<uint64_t>>> masks_;
};

}  // namespace fm
