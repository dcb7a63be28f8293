#include "tokenizer/regex.h"

#include <memory>
#include <stdexcept>

#include "tokenizer/unicode.h"

namespace fm {

// ---- compiled form ------------------------------------------------------------------------------------------

namespace {

bool item_matches(const Regex::ClassItem& it, uint32_t cp) {
  bool hit = false;
  switch (it.kind) {
    case Regex::ClassItem::kRange: hit = cp >= it.lo && cp <= it.hi; break;
    case Regex::ClassItem::kCategory: hit = in_category(cp, it.category); break;
    case Regex::ClassItem::kWhitespace: hit = is_whitespace(cp); break;
    case Regex::ClassItem::kDigit: hit = in_category(cp, "Nd"); break;
    case Regex::ClassItem::kWord: hit = cp == '_' || is_letter(cp) || is_mark(cp) || in_category(cp, "Nd") || in_category(cp, "Pc"); break;
  }
  return hit != it.negated;
}

bool class_matches(const Regex::CharClass& c, uint32_t cp) {
  bool hit = false;
  for (const auto& it : c.items) {
    if (item_matches(it, cp) || (c.icase && (item_matches(it, to_lower(cp)) || item_matches(it, to_upper(cp))))) {
      hit = true;
      break;
    }
  }
  return hit != c.negated;
}

// ---- parser: pattern -> AST ---------------------------------------------------------------------------------

struct Node {
  enum Kind { kEmpty, kChar, kClass, kAny, kConcat, kAlt, kRepeat, kLook, kBegin, kEnd } kind;
  uint32_t cp = 0;
  bool icase = false;
  int cls = -1;
  int min = 0, max = 0;  // kRepeat, max -1 = unbounded
  bool greedy = true;
  bool negative = false;  // kLook
  std::vector<std::unique_ptr<Node>> kids;
};

class Parser {
 public:
  Parser(std::string_view pattern, std::vector<Regex::CharClass>& classes) : classes_(classes) {
    std::vector<uint32_t> offsets;
    utf8_split(pattern, &cps_, &offsets);
  }

  std::unique_ptr<Node> parse() {
    auto node = alternation(false);
    if (pos_ < cps_.size()) fail("unbalanced ')'");
    return node;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument("regex: " + what + " at code point " + std::to_string(pos_));
  }
  bool more() const { return pos_ < cps_.size(); }
  uint32_t peek() const { return cps_[pos_]; }
  bool accept(uint32_t c) {
    if (more() && peek() == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  std::unique_ptr<Node> alternation(bool icase) {
    auto alt = std::make_unique<Node>();
    alt->kind = Node::kAlt;
    alt->kids.push_back(concatenation(icase));
    while (accept('|')) alt->kids.push_back(concatenation(icase));
    if (alt->kids.size() == 1) return std::move(alt->kids[0]);
    return alt;
  }

  std::unique_ptr<Node> concatenation(bool icase) {
    auto cat = std::make_unique<Node>();
    cat->kind = Node::kConcat;
    while (more() && peek() != '|' && peek() != ')') cat->kids.push_back(repetition(icase));
    return cat;
  }

  std::unique_ptr<Node> repetition(bool icase) {
    auto atom_node = atom(icase);
    for (;;) {
      int min, max;
      if (accept('*')) min = 0, max = -1;
      else if (accept('+')) min = 1, max = -1;
      else if (accept('?')) min = 0, max = 1;
      else if (more() && peek() == '{' && counted(&min, &max)) {
      } else break;
      if (atom_node->kind == Node::kBegin || atom_node->kind == Node::kEnd || atom_node->kind == Node::kLook)
        fail("quantifier after an assertion");
      auto rep = std::make_unique<Node>();
      rep->kind = Node::kRepeat;
      rep->min = min;
      rep->max = max;
      rep->greedy = !accept('?');
      if (accept('+')) fail("possessive quantifiers are not supported");
      rep->kids.push_back(std::move(atom_node));
      atom_node = std::move(rep);
    }
    return atom_node;
  }

  // {n}, {n,}, {n,m}; leaves pos unchanged and returns false when '{' does not start a quantifier.
  bool counted(int* min, int* max) {
    size_t save = pos_;
    ++pos_;
    auto number = [&](int* out) {
      size_t start = pos_;
      long v = 0;
      while (more() && peek() >= '0' && peek() <= '9') {
        v = v * 10 + (peek() - '0');
        if (v > 1000) fail("repetition count too large");
        ++pos_;
      }
      *out = static_cast<int>(v);
      return pos_ > start;
    };
    if (!number(min)) {
      pos_ = save;
      return false;
    }
    *max = *min;
    if (accept(',')) {
      if (!number(max)) *max = -1;
    }
    if (!accept('}') || (*max != -1 && *max < *min)) {
      pos_ = save;
      return false;
    }
    return true;
  }

  std::unique_ptr<Node> atom(bool icase) {
    auto node = std::make_unique<Node>();
    const uint32_t c = cps_[pos_++];
    switch (c) {
      case '(': {
        bool group_icase = icase;
        if (accept('?')) {
          if (accept(':')) {
          } else if (accept('=') || (more() && peek() == '!')) {
            const bool negative = accept('!');
            node->kind = Node::kLook;
            node->negative = negative;
            node->kids.push_back(alternation(icase));
            if (!accept(')')) fail("missing ')'");
            return node;
          } else if (accept('i')) {
            group_icase = true;
            if (!accept(':')) fail("only (?i:...) flag groups are supported");
          } else {
            fail("unsupported group syntax (lookbehind or named group)");
          }
        }
        auto inner = alternation(group_icase);
        if (!accept(')')) fail("missing ')'");
        return inner;
      }
      case '[': return char_class(icase);
      case '.': node->kind = Node::kAny; return node;
      case '^': node->kind = Node::kBegin; return node;
      case '$': node->kind = Node::kEnd; return node;
      case '\\': {
        Regex::ClassItem item{};
        uint32_t literal;
        if (escape(&item, &literal)) {
          Regex::CharClass cls;
          cls.items.push_back(item);
          node->kind = Node::kClass;
          node->cls = add_class(std::move(cls));
        } else {
          node->kind = Node::kChar;
          node->cp = literal;
          node->icase = icase;
        }
        return node;
      }
      case '*': case '+': case '?': fail("quantifier without an operand");
      case ')': fail("unbalanced ')'");
      default:
        node->kind = Node::kChar;
        node->cp = c;
        node->icase = icase;
        return node;
    }
  }

  int add_class(Regex::CharClass cls) {
    classes_.push_back(std::move(cls));
    return static_cast<int>(classes_.size()) - 1;
  }

  uint32_t hex_digits(size_t count, bool braced) {
    uint32_t v = 0;
    size_t digits = 0;
    while (more() && (braced ? peek() != '}' : digits < count)) {
      const uint32_t h = peek();
      int d = (h >= '0' && h <= '9') ? int(h - '0') : (h >= 'a' && h <= 'f') ? int(h - 'a' + 10) : (h >= 'A' && h <= 'F') ? int(h - 'A' + 10) : -1;
      if (d < 0) fail("bad hex escape");
      v = v * 16 + static_cast<uint32_t>(d);
      if (v > 0x10FFFF) fail("code point out of range");
      ++pos_;
      ++digits;
    }
    if (braced && !accept('}')) fail("missing '}'");
    if (digits == 0 || (!braced && digits != count)) fail("bad hex escape");
    return v;
  }

  // After a backslash: a class escape (returns true, fills item) or a literal code point.
  bool escape(Regex::ClassItem* item, uint32_t* literal) {
    if (!more()) fail("trailing backslash");
    const uint32_t e = cps_[pos_++];
    switch (e) {
      case 's': case 'S': item->kind = Regex::ClassItem::kWhitespace; item->negated = e == 'S'; return true;
      case 'd': case 'D': item->kind = Regex::ClassItem::kDigit; item->negated = e == 'D'; return true;
      case 'w': case 'W': item->kind = Regex::ClassItem::kWord; item->negated = e == 'W'; return true;
      case 'p': case 'P': {
        item->kind = Regex::ClassItem::kCategory;
        item->negated = e == 'P';
        if (accept('{')) {
          while (more() && peek() != '}') item->category += static_cast<char>(cps_[pos_++]);
          if (!accept('}')) fail("missing '}' in \\p{...}");
        } else if (more()) {
          item->category = std::string(1, static_cast<char>(cps_[pos_++]));
        }
        if (!category_known(item->category))
          fail("unknown category '" + item->category + "'");
        return true;
      }
      case 'r': *literal = '\r'; return false;
      case 'n': *literal = '\n'; return false;
      case 't': *literal = '\t'; return false;
      case 'f': *literal = '\f'; return false;
      case 'v': *literal = '\v'; return false;
      case '0': *literal = 0; return false;
      case 'x': *literal = accept('{') ? hex_digits(0, true) : hex_digits(2, false); return false;
      case 'u': *literal = hex_digits(4, false); return false;
      default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
          fail(std::string("unsupported escape \\") + static_cast<char>(e));
        *literal = e;  // escaped punctuation stands for itself
        return false;
    }
  }

  std::unique_ptr<Node> char_class(bool icase) {
    Regex::CharClass cls;
    cls.icase = icase;
    cls.negated = accept('^');
    bool first = true;
    while (more() && (peek() != ']' || first)) {
      first = false;
      Regex::ClassItem item{};
      uint32_t lo;
      if (accept('\\')) {
        if (escape(&item, &lo)) {
          cls.items.push_back(item);
          continue;
        }
      } else {
        lo = cps_[pos_++];
      }
      uint32_t hi = lo;
      if (more() && peek() == '-' && pos_ + 1 < cps_.size() && cps_[pos_ + 1] != ']') {
        ++pos_;
        if (accept('\\')) {
          Regex::ClassItem dummy{};
          if (escape(&dummy, &hi)) fail("class escape as a range end");
        } else {
          hi = cps_[pos_++];
        }
        if (hi < lo) fail("reversed range");
      }
      item.kind = Regex::ClassItem::kRange;
      item.lo = lo;
      item.hi = hi;
      cls.items.push_back(item);
    }
    if (!accept(']')) fail("missing ']'");
    auto node = std::make_unique<Node>();
    node->kind = Node::kClass;
    node->cls = add_class(std::move(cls));
    return node;
  }

  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
  std::vector<Regex::CharClass>& classes_;
};

// ---- compiler: AST -> program -------------------------------------------------------------------------------

class Compiler {
 public:
  explicit Compiler(std::vector<std::vector<Regex::Inst>>& programs) : programs_(programs) {}

  int compile_program(const Node& root) {
    const int index = static_cast<int>(programs_.size());
    programs_.emplace_back();
    std::vector<Regex::Inst> code;
    emit(root, code);
    code.push_back({Regex::Inst::kMatch});
    programs_[index] = std::move(code);
    return index;
  }

 private:
  void emit(const Node& n, std::vector<Regex::Inst>& code) {
    if (code.size() > 200000) throw std::invalid_argument("regex: pattern too large");
    using I = Regex::Inst;
    switch (n.kind) {
      case Node::kEmpty: break;
      case Node::kChar: {
        I inst{I::kChar};
        inst.cp = n.icase ? to_lower(n.cp) : n.cp;
        inst.icase = n.icase;
        code.push_back(inst);
        break;
      }
      case Node::kClass: {
        I inst{I::kClass};
        inst.x = n.cls;
        code.push_back(inst);
        break;
      }
      case Node::kAny: code.push_back({I::kAny}); break;
      case Node::kBegin: code.push_back({I::kBegin}); break;
      case Node::kEnd: code.push_back({I::kEnd}); break;
      case Node::kConcat:
        for (const auto& k : n.kids) emit(*k, code);
        break;
      case Node::kAlt: {
        std::vector<size_t> jumps;
        for (size_t i = 0; i < n.kids.size(); ++i) {
          if (i + 1 < n.kids.size()) {
            const size_t split = code.size();
            code.push_back({I::kSplit});
            code[split].x = static_cast<int>(code.size());
            emit(*n.kids[i], code);
            jumps.push_back(code.size());
            code.push_back({I::kJmp});
            code[split].y = static_cast<int>(code.size());
          } else {
            emit(*n.kids[i], code);
          }
        }
        for (size_t j : jumps) code[j].x = static_cast<int>(code.size());
        break;
      }
      case Node::kRepeat: {
        const Node& body = *n.kids[0];
        for (int i = 0; i < n.min; ++i) emit(body, code);
        if (n.max == -1) {
          const size_t loop = code.size();
          code.push_back({I::kSplit});
          const int body_start = static_cast<int>(code.size());
          emit(body, code);
          code.push_back({I::kJmp});
          code.back().x = static_cast<int>(loop);
          const int exit = static_cast<int>(code.size());
          code[loop].x = n.greedy ? body_start : exit;
          code[loop].y = n.greedy ? exit : body_start;
        } else {
          std::vector<size_t> splits;
          for (int i = n.min; i < n.max; ++i) {
            splits.push_back(code.size());
            code.push_back({I::kSplit});
            code[splits.back()].x = static_cast<int>(code.size());  // provisional: body first
            emit(body, code);
          }
          const int exit = static_cast<int>(code.size());
          for (size_t s : splits) {
            const int body_start = static_cast<int>(s) + 1;
            code[s].x = n.greedy ? body_start : exit;
            code[s].y = n.greedy ? exit : body_start;
          }
        }
        break;
      }
      case Node::kLook: {
        I inst{I::kLook};
        inst.x = compile_program(*n.kids[0]);
        inst.y = n.negative ? 1 : 0;
        code.push_back(inst);
        break;
      }
    }
  }

  std::vector<std::vector<Regex::Inst>>& programs_;
};

constexpr int64_t kStepBudget = 20'000'000;  // per match attempt; guards against catastrophic patterns

}  // namespace

Regex::Regex(std::string_view pattern) : pattern_(pattern) {
  Parser parser(pattern, classes_);
  auto root = parser.parse();
  Compiler(programs_).compile_program(*root);
  // compile_program appends lookahead bodies while compiling the main program; keep main at index 0.
}

bool Regex::run(int program, const uint32_t* cps, int64_t n, int64_t pos, int64_t* end) const {
  struct Frame {
    int pc;
    int64_t pos;
  };
  thread_local std::vector<Frame> stack_storage;
  const size_t base = stack_storage.size();
  const std::vector<Inst>& code = programs_[program];
  stack_storage.push_back({0, pos});
  int64_t steps = 0;
  bool found = false;
  while (stack_storage.size() > base) {
    Frame f = stack_storage.back();
    stack_storage.pop_back();
    for (;;) {
      if (++steps > kStepBudget) {
        stack_storage.resize(base);
        throw std::runtime_error("regex: match exceeded the step budget (pattern too ambiguous)");
      }
      const Inst& in = code[f.pc];
      bool ok = true;
      switch (in.op) {
        case Inst::kChar:
          ok = f.pos < n && (in.icase ? to_lower(cps[f.pos]) == in.cp : cps[f.pos] == in.cp);
          if (ok) ++f.pos, ++f.pc;
          break;
        case Inst::kClass:
          ok = f.pos < n && class_matches(classes_[in.x], cps[f.pos]);
          if (ok) ++f.pos, ++f.pc;
          break;
        case Inst::kAny:
          ok = f.pos < n && cps[f.pos] != '\n';
          if (ok) ++f.pos, ++f.pc;
          break;
        case Inst::kBegin: ok = f.pos == 0; ++f.pc; break;
        case Inst::kEnd: ok = f.pos == n; ++f.pc; break;
        case Inst::kJmp: f.pc = in.x; break;
        case Inst::kSplit:
          stack_storage.push_back({in.y, f.pos});
          f.pc = in.x;
          break;
        case Inst::kLook: {
          int64_t ignored;
          const bool hit = run(in.x, cps, n, f.pos, &ignored);
          ok = hit != (in.y == 1);
          ++f.pc;
          break;
        }
        case Inst::kMatch:
          *end = f.pos;
          found = true;
          break;
      }
      if (found || !ok) break;
    }
    if (found) break;
  }
  stack_storage.resize(base);
  return found;
}

int64_t Regex::match_at(const uint32_t* cps, int64_t n, int64_t pos) const {
  int64_t end;
  return run(0, cps, n, pos, &end) ? end : -1;
}

void Regex::find_all(const uint32_t* cps, int64_t begin, int64_t end, std::vector<std::pair<int64_t, int64_t>>& out) const {
  for (int64_t pos = begin; pos < end;) {
    int64_t stop;
    if (run(0, cps, end, pos, &stop) && stop > pos) {
      out.emplace_back(pos, stop);
      pos = stop;
    } else {
      ++pos;
    }
  }
}

void Regex::split(const uint32_t* cps, int64_t begin, int64_t end, std::vector<std::pair<int64_t, int64_t>>& out) const {
  thread_local std::vector<std::pair<int64_t, int64_t>> matches;
  matches.clear();
  find_all(cps, begin, end, matches);
  int64_t unmatched = begin;
  for (const auto& [b, e] : matches) {
    if (unmatched < b) out.emplace_back(unmatched, b);
    out.emplace_back(b, e);
    unmatched = e;
  }
  if (unmatched < end) out.emplace_back(unmatched, end);
}

}  // namespace fm
