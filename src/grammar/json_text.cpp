#include "grammar/json_text.h"

#include <algorithm>
#include <cstdio>

namespace fm {

void CodePointSet::add(uint32_t lo, uint32_t hi) {
  if (lo > hi) return;
  ranges_.push_back({lo, hi});
  std::sort(ranges_.begin(), ranges_.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& r : ranges_) {
    if (!merged.empty() && r.first <= merged.back().second + 1) merged.back().second = std::max(merged.back().second, r.second);
    else merged.push_back(r);
  }
  ranges_.swap(merged);
}

void CodePointSet::add(const CodePointSet& other) {
  for (const auto& r : other.ranges_) add(r.first, r.second);
}

CodePointSet CodePointSet::complement() const {
  CodePointSet out;
  uint32_t next = 0;
  for (const auto& r : ranges_) {
    if (r.first > next) out.ranges_.push_back({next, r.first - 1});
    next = r.second + 1;
  }
  if (next <= 0x10FFFF) out.ranges_.push_back({next, 0x10FFFF});
  return out;
}

namespace {

// Adds the code points [lo, hi] to `rule` as alternatives of UTF-8 byte-range sequences; false when there are none.
bool add_utf8_alternatives(Grammar& g, Grammar::RuleId rule, uint32_t lo, uint32_t hi) {
  bool any = false;
  for (const auto& seq : utf8_sequences(lo, hi)) {
    std::vector<Element> elems;
    for (const auto& [a, b] : seq) {
      ByteSet s;
      s.add_range(a, b);
      elems.push_back(Grammar::bytes_elem(g.byte_set(s)));
    }
    g.add_alternative(rule, elems);
    any = true;
  }
  return any;
}

}  // namespace

Grammar::RuleId encoded_char_rule(Grammar& g, const CodePointSet& set, std::string name) {
  const Grammar::RuleId rule = g.new_rule(std::move(name));
  bool any = false;
  auto literal = [&](std::string_view text) {
    std::vector<Element> seq;
    g.append_literal(seq, text);
    g.add_alternative(rule, seq);
    any = true;
  };
  auto plain = [&](uint32_t lo, uint32_t hi) { any = add_utf8_alternatives(g, rule, lo, hi) || any; };
  for (auto [lo, hi] : set.ranges()) {
    for (uint32_t c = lo; c <= std::min<uint32_t>(hi, 0x1F); ++c) {
      switch (c) {
        case '\b': literal("\\b"); break;
        case '\f': literal("\\f"); break;
        case '\n': literal("\\n"); break;
        case '\r': literal("\\r"); break;
        case '\t': literal("\\t"); break;
        default: {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          literal(buf);
        }
      }
    }
    if (hi < 0x20) continue;
    lo = std::max<uint32_t>(lo, 0x20);
    // '"' (0x22) and '\' (0x5C) are written escaped.
    for (uint32_t special : {0x22u, 0x5Cu}) {
      if (lo <= special && special <= hi) {
        plain(lo, special - 1);
        literal(special == 0x22 ? "\\\"" : "\\\\");
        lo = special + 1;
      }
    }
    plain(lo, hi);
  }
  if (!any) throw GrammarError("a character class of the pattern matches no character");
  return rule;
}

Grammar::RuleId any_string_char_rule(Grammar& g) {
  const Grammar::RuleId rule = g.new_rule("char");
  ByteSet ascii;
  ascii.add_range(0x20, 0x7F);
  ascii.bits[0x22 >> 6] &= ~(uint64_t{1} << (0x22 & 63));
  ascii.bits[0x5C >> 6] &= ~(uint64_t{1} << (0x5C & 63));
  g.add_alternative(rule, {Grammar::bytes_elem(g.byte_set(ascii))});
  add_utf8_alternatives(g, rule, 0x80, 0x10FFFF);
  ByteSet backslash, simple, hex;
  backslash.add('\\');
  for (char c : std::string_view("\"\\/bfnrt")) simple.add(static_cast<uint8_t>(c));
  hex.add_range('0', '9');
  hex.add_range('a', 'f');
  hex.add_range('A', 'F');
  const uint32_t bs = g.byte_set(backslash), hx = g.byte_set(hex);
  g.add_alternative(rule, {Grammar::bytes_elem(bs), Grammar::bytes_elem(g.byte_set(simple))});
  ByteSet u;
  u.add('u');
  g.add_alternative(rule, {Grammar::bytes_elem(bs), Grammar::bytes_elem(g.byte_set(u)), Grammar::bytes_elem(hx),
                           Grammar::bytes_elem(hx), Grammar::bytes_elem(hx), Grammar::bytes_elem(hx)});
  return rule;
}

Grammar::RuleId whitespace_rule(Grammar& g, uint32_t max_indent) {
  ByteSet indent;
  indent.add(' ');
  indent.add('\t');
  const Grammar::RuleId indent_char = g.new_rule("indent");
  g.add_alternative(indent_char, {Grammar::bytes_elem(g.byte_set(indent))});
  const Grammar::RuleId ws = g.new_rule("ws");
  g.add_alternative(ws, {});
  std::vector<Element> space;
  g.append_literal(space, " ");
  g.add_alternative(ws, space);
  for (std::string_view nl : {"\n", "\r\n"}) {
    std::vector<Element> seq;
    g.append_literal(seq, nl);
    seq.push_back(Grammar::repeat_elem(indent_char, 0, max_indent));
    g.add_alternative(ws, seq);
  }
  return ws;
}

}  // namespace fm
