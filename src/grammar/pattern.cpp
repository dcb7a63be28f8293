#include "grammar/pattern.h"

#include <optional>
#include <string>
#include <vector>

#include "grammar/json_text.h"

namespace fm {

namespace {

constexpr uint32_t kMaxRepeat = 100000;
constexpr int kMaxGroupDepth = 64;

class PatternParser {
 public:
  PatternParser(Grammar& g, std::string_view p) : g_(g), p_(p) {}

  Grammar::RuleId top() {
    // Each top-level alternative carries its own anchors; an unanchored side matches any text there.
    const Grammar::RuleId rule = g_.new_rule("pattern");
    do {
      const bool start_anchor = eat('^');
      std::vector<Element> seq;
      if (!start_anchor) seq.push_back(Grammar::repeat_elem(any_char(), 0, Element::kUnbounded));
      bool end_anchor = false;
      sequence(seq, 0, &end_anchor);
      if (!end_anchor) seq.push_back(Grammar::repeat_elem(any_char(), 0, Element::kUnbounded));
      g_.add_alternative(rule, seq);
    } while (eat('|'));
    if (i_ != p_.size()) fail("unbalanced ')'");
    return rule;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw GrammarError("pattern \"" + std::string(p_) + "\": " + what + " at offset " + std::to_string(i_));
  }
  bool eat(char c) {
    if (i_ < p_.size() && p_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool at_end() const { return i_ >= p_.size(); }

  // Reads one UTF-8 code point of the pattern.
  uint32_t next_cp() {
    const auto b = static_cast<uint8_t>(p_[i_]);
    int n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i_ + static_cast<size_t>(n) > p_.size()) fail("invalid UTF-8");
    uint32_t cp = n == 1 ? b : b & (0x7F >> n);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<uint8_t>(p_[i_ + static_cast<size_t>(k)]) & 0x3F);
    i_ += static_cast<size_t>(n);
    return cp;
  }

  Grammar::RuleId any_char() {
    if (!any_) {
      CodePointSet s;
      s.add(0, 0x10FFFF);
      any_ = encoded_char_rule(g_, s, "any");
    }
    return *any_;
  }

  // Alternatives until ')' or the end; appends to seq when there is one alternative, else a rule call.
  void sequence(std::vector<Element>& seq, int depth, bool* end_anchor) {
    while (!at_end() && p_[i_] != '|' && p_[i_] != ')') {
      if (p_[i_] == '$') {
        ++i_;
        if (!end_anchor || !(at_end() || p_[i_] == '|')) fail("'$' is supported only at the end");
        *end_anchor = true;
        return;
      }
      if (p_[i_] == '^') fail("'^' is supported only at the start");
      Grammar::RuleId atom_rule = atom(depth);
      uint32_t min = 1, max = 1;
      if (quantifier(&min, &max)) {
        if (min == 0 && max == 0) continue;
        seq.push_back(Grammar::repeat_elem(atom_rule, min, max));
      } else {
        seq.push_back(Grammar::rule_elem(atom_rule));
      }
    }
  }

  bool quantifier(uint32_t* min, uint32_t* max) {
    if (at_end()) return false;
    const char c = p_[i_];
    if (c == '*') *min = 0, *max = Element::kUnbounded;
    else if (c == '+') *min = 1, *max = Element::kUnbounded;
    else if (c == '?') *min = 0, *max = 1;
    else if (c == '{') {
      const size_t save = i_;
      ++i_;
      auto number = [&](uint32_t* out) {
        const size_t start = i_;
        uint64_t v = 0;
        while (!at_end() && p_[i_] >= '0' && p_[i_] <= '9') {
          v = v * 10 + static_cast<uint64_t>(p_[i_] - '0');
          if (v > kMaxRepeat) fail("a repetition count above " + std::to_string(kMaxRepeat));
          ++i_;
        }
        *out = static_cast<uint32_t>(v);
        return i_ > start;
      };
      if (!number(min)) {
        i_ = save;  // a literal '{'
        return false;
      }
      *max = *min;
      if (eat(',')) {
        if (!number(max)) *max = Element::kUnbounded;
      }
      if (!eat('}')) fail("unterminated {n,m}");
      if (*max < *min) fail("{n,m} with m < n");
      --i_;
    } else {
      return false;
    }
    ++i_;
    eat('?');  // lazy: the same language
    if (!at_end() && (p_[i_] == '*' || p_[i_] == '+' || p_[i_] == '?' || p_[i_] == '{')) {
      if (p_[i_] != '{') fail("a quantifier after a quantifier");
    }
    return true;
  }

  Grammar::RuleId atom(int depth) {
    const char c = p_[i_];
    if (c == '(') {
      if (depth >= kMaxGroupDepth) fail("groups nested too deeply");
      ++i_;
      if (eat('?')) {
        if (eat(':')) {
        } else if (!at_end() && p_[i_] == '<' && i_ + 1 < p_.size() && p_[i_ + 1] != '=' && p_[i_ + 1] != '!') {
          while (!at_end() && p_[i_] != '>') ++i_;  // a named group: the name does not matter here
          if (!eat('>')) fail("unterminated group name");
        } else {
          fail("look-around and inline flags are not supported");
        }
      }
      const Grammar::RuleId rule = g_.new_rule("group");
      do {
        std::vector<Element> seq;
        sequence(seq, depth + 1, nullptr);
        g_.add_alternative(rule, seq);
      } while (eat('|'));
      if (!eat(')')) fail("missing ')'");
      return rule;
    }
    if (c == '[') return encoded_char_rule(g_, char_class(), "class");
    if (c == '.') {
      ++i_;
      CodePointSet s;
      s.add(0, 0x10FFFF);
      CodePointSet line_ends;
      line_ends.add('\n', '\n');
      line_ends.add('\r', '\r');
      line_ends.add(0x2028, 0x2029);
      CodePointSet dot = line_ends.complement();
      return encoded_char_rule(g_, dot, "dot");
    }
    if (c == '*' || c == '+' || c == '?') fail("nothing to repeat");
    if (c == ')') fail("unbalanced ')'");
    CodePointSet s;
    if (c == '\\') {
      ++i_;
      escape(s, false);
    } else {
      const uint32_t cp = next_cp();
      s.add(cp, cp);
    }
    return encoded_char_rule(g_, s, "char");
  }

  // After a backslash: adds what the escape stands for to `s`.
  void escape(CodePointSet& s, bool in_class) {
    if (at_end()) fail("a trailing backslash");
    const char c = p_[i_++];
    CodePointSet cls;
    switch (c) {
      case 'd': s.add('0', '9'); return;
      case 'D': cls.add('0', '9'); s.add(cls.complement()); return;
      case 'w': word(cls); s.add(cls); return;
      case 'W': word(cls); s.add(cls.complement()); return;
      case 's': space(cls); s.add(cls); return;
      case 'S': space(cls); s.add(cls.complement()); return;
      case 'n': s.add('\n', '\n'); return;
      case 'r': s.add('\r', '\r'); return;
      case 't': s.add('\t', '\t'); return;
      case 'f': s.add('\f', '\f'); return;
      case 'v': s.add('\v', '\v'); return;
      case '0': s.add(0, 0); return;
      case 'x': {
        const uint32_t v = hex(2);
        s.add(v, v);
        return;
      }
      case 'u': {
        const uint32_t v = hex(4);
        s.add(v, v);
        return;
      }
      case 'b':
        if (in_class) {
          s.add('\b', '\b');
          return;
        }
        fail("word boundaries (\\b) are not supported");
      case 'B': fail("\\B is not supported");
      case 'p':
      case 'P': fail("Unicode property classes (\\p{...}) are not supported");
      case 'c': fail("control escapes (\\c) are not supported");
      case 'k': fail("named back-references are not supported");
      default:
        if (c >= '1' && c <= '9') fail("back-references are not supported");
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) fail(std::string("unknown escape \\") + c);
        --i_;
        {
          const uint32_t cp = next_cp();
          s.add(cp, cp);
        }
    }
  }

  uint32_t hex(int n) {
    uint32_t v = 0;
    for (int k = 0; k < n; ++k) {
      if (at_end()) fail("a short hex escape");
      const char c = p_[i_++];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) fail("a bad hex escape");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    return v;
  }

  static void word(CodePointSet& s) {
    s.add('0', '9');
    s.add('A', 'Z');
    s.add('a', 'z');
    s.add('_', '_');
  }
  static void space(CodePointSet& s) {
    for (uint32_t c : {0x09u, 0x0Au, 0x0Bu, 0x0Cu, 0x0Du, 0x20u, 0xA0u, 0x1680u, 0x2028u, 0x2029u, 0x202Fu, 0x205Fu, 0x3000u, 0xFEFFu})
      s.add(c, c);
    s.add(0x2000, 0x200A);
  }

  CodePointSet char_class() {
    ++i_;  // '['
    const bool negated = eat('^');
    CodePointSet s;
    while (!at_end() && p_[i_] != ']') {
      CodePointSet item;
      uint32_t lo = 0;
      bool single = false;
      if (p_[i_] == '\\') {
        ++i_;
        escape(item, true);
        single = item.ranges().size() == 1 && item.ranges()[0].first == item.ranges()[0].second;
        if (single) lo = item.ranges()[0].first;
      } else {
        lo = next_cp();
        item.add(lo, lo);
        single = true;
      }
      if (single && i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
        ++i_;
        uint32_t hi;
        if (p_[i_] == '\\') {
          ++i_;
          CodePointSet h;
          escape(h, true);
          if (h.ranges().size() != 1 || h.ranges()[0].first != h.ranges()[0].second) fail("a class as a range end");
          hi = h.ranges()[0].first;
        } else {
          hi = next_cp();
        }
        if (hi < lo) fail("a range out of order");
        item.add(lo, hi);
      }
      s.add(item);
    }
    if (!eat(']')) fail("missing ']'");
    return negated ? s.complement() : s;
  }

  Grammar& g_;
  std::string_view p_;
  size_t i_ = 0;
  std::optional<Grammar::RuleId> any_;
};

}  // namespace

Grammar::RuleId compile_pattern(Grammar& g, std::string_view pattern) { return PatternParser(g, pattern).top(); }

}  // namespace fm
