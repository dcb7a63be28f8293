#include "grammar/grammar.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

namespace fm {

Grammar::RuleId Grammar::new_rule(std::string name) {
  if (rules_.size() >= kMaxRules) throw GrammarError("the schema is too large (more than " + std::to_string(kMaxRules) + " grammar rules)");
  rules_.push_back(Rule{std::move(name), {}, false});
  return static_cast<RuleId>(rules_.size() - 1);
}

void Grammar::add_alternative(RuleId rule, const std::vector<Element>& sequence) {
  if (elements_.size() + sequence.size() + 1 > kMaxElements)
    throw GrammarError("the schema is too large (more than " + std::to_string(kMaxElements) + " grammar elements)");
  rules_[rule].starts.push_back(static_cast<uint32_t>(elements_.size()));
  elements_.insert(elements_.end(), sequence.begin(), sequence.end());
  elements_.push_back(Element{});
}

uint32_t Grammar::byte_set(const ByteSet& set) {
  for (size_t i = byte_sets_.size(); i-- > 0;)
    if (byte_sets_[i] == set) return static_cast<uint32_t>(i);
  byte_sets_.push_back(set);
  return static_cast<uint32_t>(byte_sets_.size() - 1);
}

uint32_t Grammar::number(const NumberSpec& spec) {
  numbers_.push_back(spec);
  return static_cast<uint32_t>(numbers_.size() - 1);
}

void Grammar::append_literal(std::vector<Element>& seq, std::string_view text) {
  for (char c : text) {
    ByteSet s;
    s.add(static_cast<uint8_t>(c));
    seq.push_back(bytes_elem(byte_set(s)));
  }
}

Grammar::RuleId Grammar::literal_rule(std::string_view text) {
  const RuleId r = new_rule("literal");
  std::vector<Element> seq;
  append_literal(seq, text);
  add_alternative(r, seq);
  return r;
}

Grammar::RuleId Grammar::choice(std::string name, const std::vector<std::vector<Element>>& seqs) {
  const RuleId r = new_rule(std::move(name));
  for (const auto& s : seqs) add_alternative(r, s);
  return r;
}

void Grammar::compute_nullable() {
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& rule : rules_) {
      if (rule.nullable) continue;
      for (uint32_t start : rule.starts) {
        bool all = true;
        for (uint32_t p = start; elements_[p].kind != ElementKind::kEnd && all; ++p) {
          const Element& e = elements_[p];
          if (e.kind == ElementKind::kRule) all = rules_[e.arg].nullable;
          else if (e.kind == ElementKind::kRepeat) all = e.min == 0 || rules_[e.arg].nullable;
          else all = false;
        }
        if (all) {
          rule.nullable = true;
          changed = true;
          break;
        }
      }
    }
  }
}

void Grammar::check_left_recursion() const {
  // Edges: rule -> rules it may call before reading any byte. A cycle would make the matcher's closure endless.
  const size_t n = rules_.size();
  std::vector<std::vector<uint32_t>> edges(n);
  for (size_t r = 0; r < n; ++r)
    for (uint32_t start : rules_[r].starts)
      for (uint32_t p = start; elements_[p].kind != ElementKind::kEnd; ++p) {
        const Element& e = elements_[p];
        if (e.kind == ElementKind::kBytes || e.kind == ElementKind::kNumber) break;
        edges[r].push_back(e.arg);
        const bool skippable = rules_[e.arg].nullable || (e.kind == ElementKind::kRepeat && e.min == 0);
        if (!skippable) break;
      }
  std::vector<uint8_t> color(n, 0);  // 0 new, 1 on the path, 2 done
  std::vector<std::pair<uint32_t, size_t>> stack;
  for (size_t s = 0; s < n; ++s) {
    if (color[s]) continue;
    stack.push_back({static_cast<uint32_t>(s), 0});
    color[s] = 1;
    while (!stack.empty()) {
      auto& [r, i] = stack.back();
      if (i == edges[r].size()) {
        color[r] = 2;
        stack.pop_back();
        continue;
      }
      const uint32_t next = edges[r][i++];
      if (color[next] == 1)
        throw GrammarError("the schema refers to itself without consuming input (left recursion through '" +
                           rules_[next].name + "')");
      if (color[next] == 0) {
        color[next] = 1;
        stack.push_back({next, 0});
      }
    }
  }
}

void Grammar::finalize() {
  for (const auto& rule : rules_)
    if (rule.starts.empty()) throw GrammarError("internal: grammar rule '" + rule.name + "' has no alternative");
  compute_nullable();
  for (const Element& e : elements_)
    if (e.kind == ElementKind::kRepeat && rules_[e.arg].nullable && e.max != 1)
      throw GrammarError("a repeated part of the schema or pattern can match nothing ('" + rules_[e.arg].name + "')");
  check_left_recursion();
  compute_byte_classes();
}

void Grammar::compute_byte_classes() {
  // A byte's signature: which byte sets hold it (number elements read digits and punctuation one by one).
  std::map<std::vector<uint64_t>, uint8_t> classes;
  const size_t words = (byte_sets_.size() + 64) / 64 + 1;
  for (int b = 0; b < 256; ++b) {
    std::vector<uint64_t> sig(words, 0);
    for (size_t i = 0; i < byte_sets_.size(); ++i)
      if (byte_sets_[i].has(static_cast<uint8_t>(b))) sig[i / 64] |= uint64_t{1} << (i % 64);
    const bool numeric = (b >= '0' && b <= '9') || b == '-' || b == '.' || b == '+' || b == 'e' || b == 'E';
    if (numeric) sig.back() = static_cast<uint64_t>(b) + 1;
    auto it = classes.emplace(std::move(sig), static_cast<uint8_t>(classes.size())).first;
    byte_class_[static_cast<size_t>(b)] = it->second;
  }
  byte_class_count_ = static_cast<int>(classes.size());
}

std::string Grammar::to_string() const {
  auto set_text = [](const ByteSet& s) {
    std::string out = "[";
    for (int b = 0; b < 256; ++b) {
      if (!s.has(static_cast<uint8_t>(b))) continue;
      int e = b;
      while (e + 1 < 256 && s.has(static_cast<uint8_t>(e + 1))) ++e;
      auto one = [](int c) {
        if (c >= 0x21 && c < 0x7f && c != ']' && c != '\\' && c != '-') return std::string(1, static_cast<char>(c));
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02X", c);
        return std::string(buf);
      };
      out += one(b);
      if (e > b) {
        out += '-';
        out += one(e);
      }
      b = e;
    }
    return out + "]";
  };
  std::string out;
  for (size_t r = 0; r < rules_.size(); ++r) {
    out += rules_[r].name + "#" + std::to_string(r) + " ::=";
    for (size_t a = 0; a < rules_[r].starts.size(); ++a) {
      if (a) out += " |";
      for (uint32_t p = rules_[r].starts[a]; elements_[p].kind != ElementKind::kEnd; ++p) {
        const Element& e = elements_[p];
        out += " ";
        switch (e.kind) {
          case ElementKind::kBytes: out += set_text(byte_sets_[e.arg]); break;
          case ElementKind::kRule: out += rules_[e.arg].name + "#" + std::to_string(e.arg); break;
          case ElementKind::kRepeat:
            out += rules_[e.arg].name + "#" + std::to_string(e.arg) + "{" + std::to_string(e.min) + "," +
                   (e.max == Element::kUnbounded ? std::string() : std::to_string(e.max)) + "}";
            break;
          case ElementKind::kNumber: out += "number#" + std::to_string(e.arg); break;
          case ElementKind::kEnd: break;
        }
      }
    }
    out += "\n";
  }
  return out;
}

namespace {

// Values reachable from a number prefix, as a range of magnitudes [lo, hi] (hi_open: hi itself is not reached).
struct Span {
  double lo, hi;
  bool hi_open;
};

bool span_meets(const NumberSpec& spec, bool negative, const Span& m) {
  // Signed range [a, b] with open ends where the magnitude range was open.
  double a, b;
  bool a_open = false, b_open = false;
  if (negative) {
    a = -m.hi, b = -m.lo;
    a_open = m.hi_open;
  } else {
    a = m.lo, b = m.hi;
    b_open = m.hi_open;
  }
  if (spec.integer) {
    // The integers in [a, b] (an open end excludes it).
    double first = std::ceil(a), last = std::floor(b);
    if (a_open && first == a) first += 1;
    if (b_open && last == b) last -= 1;
    if (spec.has_min) first = std::max(first, spec.exclusive_min ? std::floor(spec.min) + 1 : std::ceil(spec.min));
    if (spec.has_max) last = std::min(last, spec.exclusive_max ? std::ceil(spec.max) - 1 : std::floor(spec.max));
    return first <= last;
  }
  if (spec.has_min) {
    // Need some x in the range with x > min (or >=).
    if (b < spec.min) return false;
    if (b == spec.min && (b_open || spec.exclusive_min)) return false;
  }
  if (spec.has_max) {
    if (a > spec.max) return false;
    if (a == spec.max && (a_open || spec.exclusive_max)) return false;
  }
  if (spec.has_min && spec.has_max) {
    // Both bounds inside one non-empty range: the intersection is non-empty unless it is a single open point.
    const double lo = std::max(a, spec.min), hi = std::min(b, spec.max);
    if (lo > hi) return false;
  }
  return true;
}

bool in_range(const NumberSpec& spec, double v) {
  if (spec.has_min && (spec.exclusive_min ? !(v > spec.min) : !(v >= spec.min))) return false;
  if (spec.has_max && (spec.exclusive_max ? !(v < spec.max) : !(v <= spec.max))) return false;
  if (spec.integer && std::floor(v) != v) return false;
  return true;
}

}  // namespace

NumberPrefixState check_number_prefix(const NumberSpec& spec, std::string_view p) {
  NumberPrefixState st;
  if (p.size() > static_cast<size_t>(NumberSpec::kMaxNumberChars)) return st;
  size_t i = 0;
  const bool negative = !p.empty() && p[0] == '-';
  if (negative) ++i;
  const size_t int_start = i;
  while (i < p.size() && p[i] >= '0' && p[i] <= '9') ++i;
  const std::string_view int_digits = p.substr(int_start, i - int_start);
  if (int_digits.size() > 1 && int_digits[0] == '0') return st;
  bool dot = false;
  std::string_view frac;
  if (i < p.size() && p[i] == '.') {
    if (spec.integer || int_digits.empty()) return st;
    dot = true;
    ++i;
    const size_t f = i;
    while (i < p.size() && p[i] >= '0' && p[i] <= '9') ++i;
    frac = p.substr(f, i - f);
  }
  if (i != p.size()) return st;  // a byte that is not part of a number

  const int room = NumberSpec::kMaxNumberChars - static_cast<int>(p.size());
  if (int_digits.empty()) {
    // "" or "-": any magnitude (below the length cap) of that sign, or either sign.
    const double big = std::pow(10.0, std::max(0, room - 1));
    const Span any{0, big, false};
    st.viable = span_meets(spec, negative, any) || (p.empty() && span_meets(spec, true, any));
    return st;
  }
  const double v = std::stod(std::string(int_digits));
  bool viable = false;
  if (!dot) {
    // The integer itself, a fraction after it, or more integer digits.
    viable = span_meets(spec, negative, Span{v, v, false});
    if (!spec.integer && room >= 2) viable = viable || span_meets(spec, negative, Span{v, v + 1, true});
    if (int_digits != "0") {
      double scale = 10;
      for (int k = 1; k <= room && !viable; ++k, scale *= 10) {
        viable = span_meets(spec, negative, Span{v * scale, (v + 1) * scale - 1, false}) ||
                 (!spec.integer && span_meets(spec, negative, Span{v * scale, (v + 1) * scale, true}));
      }
    }
    st.done = in_range(spec, negative ? -v : v);
  } else {
    const double step = std::pow(10.0, -static_cast<double>(frac.size()));
    const double x = std::stod(std::string(p.substr(negative ? 1 : 0)) + (frac.empty() ? "0" : ""));
    viable = span_meets(spec, negative, Span{x, x, false});
    if (room >= 1) viable = viable || span_meets(spec, negative, Span{x, x + step, true});
    st.done = !frac.empty() && in_range(spec, negative ? -x : x);
  }
  st.viable = viable || st.done;
  return st;
}

std::vector<std::vector<std::pair<uint8_t, uint8_t>>> utf8_sequences(uint32_t lo, uint32_t hi) {
  std::vector<std::vector<std::pair<uint8_t, uint8_t>>> out;
  auto encode = [](uint32_t cp, uint8_t* b) -> int {
    if (cp < 0x80) return b[0] = static_cast<uint8_t>(cp), 1;
    if (cp < 0x800) {
      b[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
      b[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
      return 2;
    }
    if (cp < 0x10000) {
      b[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
      b[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
      b[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
      return 3;
    }
    b[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
    b[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
    b[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    b[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 4;
  };
  std::function<void(uint32_t, uint32_t)> split = [&](uint32_t a, uint32_t b) {
    if (a > b) return;
    if (a <= 0xDFFF && b >= 0xD800) {
      if (a < 0xD800) split(a, 0xD7FF);
      if (b > 0xDFFF) split(0xE000, b);
      return;
    }
    for (uint32_t bound : {0x7Fu, 0x7FFu, 0xFFFFu})
      if (a <= bound && b > bound) {
        split(a, bound);
        split(bound + 1, b);
        return;
      }
    if (b <= 0x7F) {
      out.push_back({{static_cast<uint8_t>(a), static_cast<uint8_t>(b)}});
      return;
    }
    const int n = a < 0x800 ? 2 : a < 0x10000 ? 3 : 4;
    for (int i = 1; i < n; ++i) {
      const uint32_t m = (1u << (6 * i)) - 1;
      if ((a & ~m) != (b & ~m)) {
        if ((a & m) != 0) {
          split(a, a | m);
          split((a | m) + 1, b);
          return;
        }
        if ((b & m) != m) {
          split(a, (b & ~m) - 1);
          split(b & ~m, b);
          return;
        }
      }
    }
    uint8_t ba[4], bb[4];
    encode(a, ba);
    encode(b, bb);
    std::vector<std::pair<uint8_t, uint8_t>> seq;
    for (int i = 0; i < n; ++i) seq.push_back({ba[i], bb[i]});
    out.push_back(std::move(seq));
  };
  split(lo, std::min<uint32_t>(hi, 0x10FFFF));
  return out;
}

}  // namespace fm
