#include "grammar/matcher.h"

#include <algorithm>
#include <cstring>

#include "grammar/token_trie.h"

namespace fm {

namespace {
constexpr int kMaxClosureDepth = 20000;  // rules nest at most this deep without reading a byte
constexpr size_t kMaxStates = 20000;     // beyond: the automaton starts afresh from the current state
constexpr size_t kMaxNodes = size_t{1} << 22;
constexpr size_t kKeptMasks = 16;
}  // namespace

Matcher::Matcher(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {
  prefixes_.push_back("");
  prefix_ids_[""] = 0;
  const Grammar& g = *grammar_;
  std::vector<uint32_t> tops;
  // The root is called with nothing below it: its end is the end of the document.
  for (uint32_t start : g.alternatives(g.root())) closure(push(kEmptyStack, {start, 0}), tops, 0);
  current_ = intern(tops, nodes_.size());
}

uint32_t Matcher::push(uint32_t below, Frame f) {
  nodes_.push_back(Node{f, below});
  return static_cast<uint32_t>(nodes_.size() - 1);
}

uint32_t Matcher::intern_prefix(std::string prefix) {
  auto it = prefix_ids_.find(prefix);
  if (it != prefix_ids_.end()) return it->second;
  prefixes_.push_back(prefix);
  const auto id = static_cast<uint32_t>(prefixes_.size() - 1);
  prefix_ids_.emplace(std::move(prefix), id);
  return id;
}

bool Matcher::number_done(uint32_t spec, uint32_t prefix) {
  return check_number_prefix(grammar_->number_spec(spec), prefixes_[prefix]).done;
}

// Expands a stack until a byte-reading element is on top (or the stack is empty), following every alternative.
void Matcher::closure(uint32_t node, std::vector<uint32_t>& out, int depth) {
  if (depth > kMaxClosureDepth) return;
  if (node == kEmptyStack) {
    out.push_back(kAccept);
    return;
  }
  const Grammar& g = *grammar_;
  const Node n = nodes_[node];
  const Element& e = g.element(n.frame.pos);
  switch (e.kind) {
    case ElementKind::kEnd: closure(n.below, out, depth + 1); return;
    case ElementKind::kBytes: out.push_back(node); return;
    case ElementKind::kNumber:
      out.push_back(node);
      if (number_done(e.arg, n.frame.count)) closure(push(n.below, {n.frame.pos + 1, 0}), out, depth + 1);
      return;
    case ElementKind::kRule: {
      // A call in tail position needs no return frame.
      const bool tail = g.element(n.frame.pos + 1).kind == ElementKind::kEnd;
      const uint32_t ret = tail ? n.below : push(n.below, {n.frame.pos + 1, 0});
      for (uint32_t start : g.alternatives(e.arg)) closure(push(ret, {start, 0}), out, depth + 1);
      return;
    }
    case ElementKind::kRepeat: {
      const uint32_t c = n.frame.count;
      if (c >= e.min) closure(push(n.below, {n.frame.pos + 1, 0}), out, depth + 1);
      if (c < e.max) {
        // Unbounded repeats count only up to min, so a long run does not make every state new.
        const uint32_t next = e.max == Element::kUnbounded ? std::min(c + 1, e.min) : c + 1;
        const uint32_t ret = push(n.below, {n.frame.pos, next});
        for (uint32_t start : g.alternatives(e.arg)) closure(push(ret, {start, 0}), out, depth + 1);
      }
      return;
    }
  }
}

void Matcher::step(const std::vector<uint32_t>& from, uint8_t byte, std::vector<uint32_t>& to) {
  to.clear();
  const Grammar& g = *grammar_;
  for (uint32_t top : from) {
    if (top == kAccept) continue;
    const Node n = nodes_[top];
    const Element& e = g.element(n.frame.pos);
    if (e.kind == ElementKind::kBytes) {
      if (g.bytes(e.arg).has(byte)) closure(push(n.below, {n.frame.pos + 1, 0}), to, 0);
    } else if (e.kind == ElementKind::kNumber) {
      std::string prefix = prefixes_[n.frame.count];
      prefix.push_back(static_cast<char>(byte));
      if (check_number_prefix(g.number_spec(e.arg), prefix).viable)
        closure(push(n.below, {n.frame.pos, intern_prefix(std::move(prefix))}), to, 0);
    }
  }
}

uint32_t Matcher::intern(std::vector<uint32_t>& tops, size_t mark) {
  // Canonical form: each stack's frames from the top down, the stacks sorted and distinct. Built in reused
  // buffers: a state that already exists costs no allocation.
  frames_buf_.clear();
  spans_buf_.clear();
  for (uint32_t top : tops) {
    const uint32_t begin = static_cast<uint32_t>(frames_buf_.size());
    if (top == kAccept) frames_buf_.push_back(Frame{kAccept, kAccept});
    for (uint32_t id = top; id != kEmptyStack && id != kAccept; id = nodes_[id].below) frames_buf_.push_back(nodes_[id].frame);
    spans_buf_.push_back({begin, static_cast<uint32_t>(frames_buf_.size()) - begin, top});
  }
  const Frame* f = frames_buf_.data();
  auto less = [f](const Span& a, const Span& b) {
    const int c = std::memcmp(f + a.begin, f + b.begin, sizeof(Frame) * std::min(a.length, b.length));
    return c != 0 ? c < 0 : a.length < b.length;
  };
  auto same = [f](const Span& a, const Span& b) {
    return a.length == b.length && std::memcmp(f + a.begin, f + b.begin, sizeof(Frame) * a.length) == 0;
  };
  std::sort(spans_buf_.begin(), spans_buf_.end(), less);
  spans_buf_.erase(std::unique(spans_buf_.begin(), spans_buf_.end(), same), spans_buf_.end());
  key_buf_.clear();
  for (const Span& sp : spans_buf_) {
    key_buf_.append(reinterpret_cast<const char*>(&sp.length), sizeof sp.length);
    key_buf_.append(reinterpret_cast<const char*>(f + sp.begin), sizeof(Frame) * sp.length);
  }
  auto it = state_ids_.find(key_buf_);
  if (it != state_ids_.end()) {
    nodes_.resize(mark);  // the stacks just built duplicate the existing state's
    return it->second;
  }
  State s;
  s.next.assign(static_cast<size_t>(grammar_->byte_class_count()), kUnknown);
  for (const Span& sp : spans_buf_) {
    s.tops.push_back(sp.top);
    s.accepting = s.accepting || sp.top == kAccept;
  }
  states_.push_back(std::move(s));
  const auto id = static_cast<uint32_t>(states_.size() - 1);
  state_ids_.emplace(key_buf_, id);
  return id;
}

int32_t Matcher::transition(uint32_t state, uint8_t byte) {
  const uint8_t cls = grammar_->byte_class(byte);
  const int32_t known = states_[state].next[cls];
  if (known != kUnknown) return known;
  const size_t mark = nodes_.size();
  step(states_[state].tops, byte, scratch_);
  int32_t next = kDead;
  if (!scratch_.empty()) {
    std::vector<uint32_t> tops = scratch_;
    next = static_cast<int32_t>(intern(tops, mark));
  }
  states_[state].next[cls] = next;
  return next;
}

int32_t Matcher::plain_successor(uint32_t state) {
  if (states_[state].plain_next == kUnknown) {
    int32_t common = kUnknown;
    for (int b = 0x20; b <= 0x7E; ++b) {
      if (!TokenTrie::is_plain(static_cast<uint8_t>(b))) continue;
      const int32_t next = transition(state, static_cast<uint8_t>(b));
      if (next == kDead || (common != kUnknown && next != common)) {
        common = kDead;
        break;
      }
      common = next;
    }
    states_[state].plain_next = common;
  }
  return states_[state].plain_next;
}

// The one state every character of text leads to: each plain ASCII byte and each well-formed multi-byte
// character (every prefix of it alive) reaches the same state (this one again in free text, the next count under
// maxLength). Explored over (state, UTF-8 decoder state) pairs, once per state; kDead when there is no such state.
int32_t Matcher::text_successor(uint32_t state) {
  if (states_[state].text_next != kUnknown) return states_[state].text_next;
  const int32_t target = plain_successor(state);
  bool uniform = target != kDead;
  std::vector<std::pair<uint32_t, int>> todo, seen;
  for (int b = 0xC2; b <= 0xF4 && uniform; ++b) {
    const int32_t t = transition(state, static_cast<uint8_t>(b));
    if (t == kDead) uniform = false;
    else todo.push_back({static_cast<uint32_t>(t), TokenTrie::utf8_next(0, static_cast<uint8_t>(b))});
  }
  while (uniform && !todo.empty()) {
    const auto [t, u] = todo.back();
    todo.pop_back();
    if (std::find(seen.begin(), seen.end(), std::make_pair(t, u)) != seen.end()) continue;
    seen.push_back({t, u});
    if (seen.size() > 256) uniform = false;  // not the small automaton of a character class
    for (int b = 0x80; b <= 0xBF && uniform; ++b) {
      const int u2 = TokenTrie::utf8_next(u, static_cast<uint8_t>(b));
      if (u2 < 0) continue;
      const int32_t t2 = transition(t, static_cast<uint8_t>(b));
      if (t2 == kDead || (u2 == 0 && t2 != target)) uniform = false;
      else if (u2 != 0) todo.push_back({static_cast<uint32_t>(t2), u2});
    }
  }
  states_[state].text_next = uniform ? target : kDead;
  return states_[state].text_next;
}

int32_t Matcher::live_run(uint32_t state, bool text) {
  if (states_[state].live_run[text] >= 0) return states_[state].live_run[text];
  // Follow the chain until a known length, a loop or a dead end; then fill the lengths in backwards.
  std::vector<uint32_t> chain;
  int32_t run = 0;
  for (uint32_t s = state;;) {
    const int32_t known = states_[s].live_run[text];
    if (known >= 0) {
      run = known;
      break;
    }
    const int32_t next = text ? text_successor(s) : plain_successor(s);
    chain.push_back(s);
    if (next == kDead) {
      run = 0;
      states_[s].live_run[text] = 0;
      chain.pop_back();
      break;
    }
    if (static_cast<uint32_t>(next) == s || chain.size() > 100000) {
      run = kForever;
      states_[s].live_run[text] = kForever;
      chain.pop_back();
      break;
    }
    s = static_cast<uint32_t>(next);
  }
  while (!chain.empty()) {
    if (run != kForever) ++run;
    states_[chain.back()].live_run[text] = run;
    chain.pop_back();
  }
  return states_[state].live_run[text];
}

bool Matcher::runs_live(uint32_t state, uint32_t depth, bool text) {
  return static_cast<int64_t>(live_run(state, text)) >= static_cast<int64_t>(depth);
}

bool Matcher::can_advance(std::string_view bytes) {
  uint32_t s = current_;
  for (char c : bytes) {
    const int32_t next = transition(s, static_cast<uint8_t>(c));
    if (next == kDead) return false;
    s = static_cast<uint32_t>(next);
  }
  return true;
}

bool Matcher::advance(std::string_view bytes) {
  uint32_t s = current_;
  for (char c : bytes) {
    const int32_t next = transition(s, static_cast<uint8_t>(c));
    if (next == kDead) return false;
    s = static_cast<uint32_t>(next);
  }
  current_ = s;
  if (states_.size() > kMaxStates || nodes_.size() > kMaxNodes) reset_keeping_current();
  return true;
}

// The automaton grew too large: start it again from the current configuration alone.
void Matcher::reset_keeping_current() {
  std::vector<Node> old_nodes;
  old_nodes.swap(nodes_);
  std::unordered_map<uint32_t, uint32_t> moved;
  auto copy = [&](auto&& self, uint32_t id) -> uint32_t {
    if (id == kEmptyStack || id == kAccept) return id;
    auto it = moved.find(id);
    if (it != moved.end()) return it->second;
    const uint32_t below = self(self, old_nodes[id].below);
    nodes_.push_back(Node{old_nodes[id].frame, below});
    const auto nid = static_cast<uint32_t>(nodes_.size() - 1);
    moved.emplace(id, nid);
    return nid;
  };
  std::vector<uint32_t> tops;
  for (uint32_t top : states_[current_].tops) tops.push_back(copy(copy, top));
  states_.clear();
  state_ids_.clear();
  masks_.clear();
  current_ = intern(tops, nodes_.size());
}

size_t Matcher::fill_mask(TokenMask& mask) {
  for (auto it = masks_.begin(); it != masks_.end(); ++it) {
    if (it->first != current_) continue;
    mask.bits() = it->second;
    masks_.splice(masks_.begin(), masks_, it);
    return 0;
  }
  mask.clear();
  const auto& tnodes = mask.trie().nodes();
  auto allow = [&](uint32_t begin, uint32_t end) { mask.allow_positions(begin, end); };
  struct Open {
    uint32_t node, state;
  };
  std::vector<Open> path;  // open trie nodes along the current path, with the state after each
  path.reserve(64);
  size_t visited = 0;
  uint32_t i = 1;
  const uint32_t n_nodes = static_cast<uint32_t>(tnodes.size());
  while (i < n_nodes) {
    while (!path.empty() && i >= tnodes[path.back().node].end) path.pop_back();
    const uint32_t parent = path.empty() ? current_ : path.back().state;
    const TokenTrie::Node& node = tnodes[i];
    ++visited;
    // Where every plain byte (every character of text) leads to one state, and that chain of states lives as deep
    // as the subtree goes, a subtree made only of plain text (of text) is accepted whole: free text, or text with
    // room left under maxLength.
    if ((node.plain && runs_live(parent, node.reach, false)) || (node.text && runs_live(parent, node.text_reach, true))) {
      allow(node.tokens_begin, node.subtree_tokens_end);
      i = node.end;
      continue;
    }
    const int32_t next = transition(parent, node.byte);
    if (next == kDead) {
      i = node.end;  // no token below this byte
      continue;
    }
    allow(node.tokens_begin, node.tokens_end);
    path.push_back({i, static_cast<uint32_t>(next)});
    ++i;
  }
  masks_.emplace_front(current_, mask.bits());
  if (masks_.size() > kKeptMasks) masks_.pop_back();
  return visited;
}

}  // namespace fm
