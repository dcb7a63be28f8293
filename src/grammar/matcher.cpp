#include "grammar/matcher.h"

#include <algorithm>

#include "grammar/token_trie.h"

namespace fm {

namespace {
constexpr int kMaxClosureDepth = 20000;  // rules nest at most this deep without reading a byte
constexpr size_t kCompactAbove = size_t{1} << 18;
}  // namespace

Matcher::Matcher(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {
  prefixes_.push_back("");
  prefix_ids_[""] = 0;
  const Grammar& g = *grammar_;
  // The root is called with nothing below it: its end is the end of the document.
  for (uint32_t start : g.alternatives(g.root())) closure(push(kEmptyStack, {start, 0}), state_, 0);
  dedup(state_);
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

bool Matcher::same_stack(uint32_t a, uint32_t b) const {
  while (a != b) {
    if (a == kEmptyStack || b == kEmptyStack || a == kAccept || b == kAccept) return false;
    const Node& x = nodes_[a];
    const Node& y = nodes_[b];
    if (x.frame.pos != y.frame.pos || x.frame.count != y.frame.count) return false;
    a = x.below;
    b = y.below;
  }
  return true;
}

void Matcher::dedup(std::vector<uint32_t>& stacks) const {
  if (stacks.size() < 2) return;
  size_t kept = 0;
  for (size_t i = 0; i < stacks.size(); ++i) {
    bool dup = false;
    for (size_t j = 0; j < kept && !dup; ++j) dup = same_stack(stacks[j], stacks[i]);
    if (!dup) stacks[kept++] = stacks[i];
  }
  stacks.resize(kept);
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
  dedup(to);
}

bool Matcher::advance(std::string_view bytes) {
  const size_t mark = nodes_.size();
  std::vector<uint32_t> cur = state_, next;
  for (char c : bytes) {
    step(cur, static_cast<uint8_t>(c), next);
    if (next.empty()) {
      nodes_.resize(mark);
      return false;
    }
    cur.swap(next);
  }
  state_ = std::move(cur);
  if (nodes_.size() > kCompactAbove) compact();
  return true;
}

bool Matcher::accepting() const { return std::find(state_.begin(), state_.end(), kAccept) != state_.end(); }

bool Matcher::finished() const { return state_.size() == 1 && state_[0] == kAccept; }

// Copies the live stacks into a fresh arena (the old one holds every stack ever explored).
void Matcher::compact() {
  std::vector<Node> fresh;
  std::unordered_map<uint32_t, uint32_t> moved;
  auto copy = [&](auto&& self, uint32_t id) -> uint32_t {
    if (id == kEmptyStack || id == kAccept) return id;
    auto it = moved.find(id);
    if (it != moved.end()) return it->second;
    const uint32_t below = self(self, nodes_[id].below);
    fresh.push_back(Node{nodes_[id].frame, below});
    const auto nid = static_cast<uint32_t>(fresh.size() - 1);
    moved.emplace(id, nid);
    return nid;
  };
  for (auto& top : state_) top = copy(copy, top);
  nodes_.swap(fresh);
}

size_t Matcher::fill_mask(const TokenTrie& trie, uint64_t* allowed) {
  const auto& tnodes = trie.nodes();
  const auto& ids = trie.token_ids();
  if (scratch_.size() < 64) scratch_.resize(64);
  scratch_[0] = state_;
  const size_t base = nodes_.size();
  // Open trie nodes along the current path: (node, arena size before its state was computed).
  struct Open {
    uint32_t node;
    size_t arena_mark;
  };
  std::vector<Open> path;
  path.reserve(64);
  size_t visited = 0;
  uint32_t i = 1;
  const uint32_t n_nodes = static_cast<uint32_t>(tnodes.size());
  while (i < n_nodes) {
    while (!path.empty() && i >= tnodes[path.back().node].end) {
      nodes_.resize(path.back().arena_mark);
      path.pop_back();
    }
    const size_t depth = path.size();  // the parent's state is scratch_[depth]
    if (scratch_.size() < depth + 2) scratch_.resize(depth + 2);
    const size_t mark = nodes_.size();
    ++visited;
    step(scratch_[depth], tnodes[i].byte, scratch_[depth + 1]);
    if (scratch_[depth + 1].empty()) {
      nodes_.resize(mark);
      i = tnodes[i].end;  // no token below this byte
      continue;
    }
    for (uint32_t t = tnodes[i].tokens_begin; t < tnodes[i].tokens_end; ++t)
      allowed[static_cast<uint32_t>(ids[t]) >> 6] |= uint64_t{1} << (static_cast<uint32_t>(ids[t]) & 63);
    path.push_back({i, mark});
    ++i;
  }
  nodes_.resize(base);
  return visited;
}

}  // namespace fm
