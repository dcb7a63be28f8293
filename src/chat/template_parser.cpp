// Lexer and recursive-descent parser for the Jinja subset chat templates use, following jinja2's grammar
// (operator precedence, filter/test binding) and its lexer's whitespace rules under trim_blocks and lstrip_blocks.
#include <cctype>
#include <cstring>

#include "chat/template_ast.h"

namespace fm::jinja {
namespace {

// ---- source normalisation ----------------------------------------------------------------------------------

// jinja2 splits the source into lines (str.splitlines) and joins them with "\n", dropping one trailing newline.
std::string normalize_newlines(const std::string& src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(src[i]);
    if (c == '\r') {
      out += '\n';
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else if (c == '\v' || c == '\f' || c == 0x1C || c == 0x1D || c == 0x1E) {
      out += '\n';
    } else if (c == 0xC2 && i + 1 < src.size() && static_cast<unsigned char>(src[i + 1]) == 0x85) {
      out += '\n';
      ++i;
    } else if (c == 0xE2 && i + 2 < src.size() && static_cast<unsigned char>(src[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(src[i + 2]) == 0xA8 || static_cast<unsigned char>(src[i + 2]) == 0xA9)) {
      out += '\n';
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// ---- tokens -----------------------------------------------------------------------------------------------------

struct Token {
  enum Type { kName, kString, kInt, kFloat, kOp, kEnd } type;
  std::string text;
  int line;
};

struct Segment {
  enum Type { kText, kOutput, kBlock } type;
  std::string text;           // kText
  std::vector<Token> tokens;  // kOutput / kBlock (ends with kEnd)
  int line;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

class Lexer {
 public:
  explicit Lexer(const std::string& src) : s_(normalize_newlines(src)) {}

  std::vector<Segment> run() {
    std::vector<Segment> out;
    bool line_starting = true;  // at the template start or right after a newline consumed by a tag
    bool strip_next = false;    // the previous tag ended with '-'
    while (pos_ < s_.size()) {
      size_t tag = find_tag(pos_);
      std::string text = s_.substr(pos_, tag - pos_);
      const int text_line = line_;
      count_lines(pos_, tag);
      if (strip_next) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
      }
      if (tag < s_.size()) {
        const char kind = s_[tag + 1];
        const char sign = tag + 2 < s_.size() ? s_[tag + 2] : '\0';
        if (sign == '-') {
          while (!text.empty() && is_space(text.back())) text.pop_back();
        } else if (kind != '{' && sign != '+') {
          // lstrip_blocks: drop spaces/tabs between the start of the line and a block or comment tag.
          const size_t nl = text.rfind('\n');
          const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
          if (l_pos > 0 || line_starting) {
            bool only_ws = l_pos < text.size();
            for (size_t k = l_pos; k < text.size(); ++k) only_ws &= is_space(text[k]);
            if (only_ws) text.erase(l_pos);
          }
        }
      }
      if (!text.empty()) out.push_back({Segment::kText, text, {}, text_line});
      if (tag >= s_.size()) break;

      pos_ = tag;
      const char kind = s_[pos_ + 1];
      pos_ += 2;
      if (pos_ < s_.size() && (s_[pos_] == '-' || s_[pos_] == '+')) ++pos_;
      bool trailing_minus = false, trailing_plus = false;
      if (kind == '#') {
        const size_t end = s_.find("#}", pos_);
        if (end == std::string::npos) throw TemplateError("unterminated comment", line_);
        trailing_minus = end > pos_ && s_[end - 1] == '-';
        trailing_plus = end > pos_ && s_[end - 1] == '+';
        count_lines(pos_, end + 2);
        pos_ = end + 2;
      } else {
        Segment seg{kind == '{' ? Segment::kOutput : Segment::kBlock, {}, {}, line_};
        lex_tag(kind == '{' ? '}' : '%', seg.tokens, &trailing_minus, &trailing_plus);
        out.push_back(std::move(seg));
      }
      strip_next = trailing_minus;
      line_starting = false;
      if (!trailing_minus && !trailing_plus && kind != '{' && pos_ < s_.size() && s_[pos_] == '\n') {
        ++pos_;  // trim_blocks: the first newline after a block or comment tag
        ++line_;
        line_starting = true;
      }
    }
    return out;
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < s_.size(); ++i)
      if (s_[i] == '{' && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    return s_.size();
  }
  void count_lines(size_t from, size_t to) {
    for (size_t i = from; i < to && i < s_.size(); ++i) line_ += s_[i] == '\n';
  }

  // Tokens of a {{ }} or {% %} body up to its closing delimiter.
  void lex_tag(char close, std::vector<Token>& out, bool* minus, bool* plus) {
    for (;;) {
      while (pos_ < s_.size() && is_space(s_[pos_])) line_ += s_[pos_++] == '\n';
      if (pos_ >= s_.size()) throw TemplateError("unterminated tag", line_);
      const char c = s_[pos_];
      auto closes_at = [&](size_t p) { return p + 1 < s_.size() && s_[p] == close && s_[p + 1] == '}'; };
      if ((c == '-' || c == '+') && closes_at(pos_ + 1)) {
        (c == '-' ? *minus : *plus) = true;
        pos_ += 3;
        out.push_back({Token::kEnd, "", line_});
        return;
      }
      if (closes_at(pos_)) {
        pos_ += 2;
        out.push_back({Token::kEnd, "", line_});
        return;
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t start = pos_;
        while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
        out.push_back({Token::kName, s_.substr(start, pos_ - start), line_});
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t start = pos_;
        bool is_float = false;
        while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
        if (pos_ + 1 < s_.size() && s_[pos_] == '.' && std::isdigit(static_cast<unsigned char>(s_[pos_ + 1]))) {
          is_float = true;
          ++pos_;
          while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
          size_t save = pos_++;
          if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
          if (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
            is_float = true;
            while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
          } else {
            pos_ = save;
          }
        }
        std::string num;
        for (size_t k = start; k < pos_; ++k)
          if (s_[k] != '_') num += s_[k];
        out.push_back({is_float ? Token::kFloat : Token::kInt, num, line_});
      } else if (c == '"' || c == '\'') {
        out.push_back({Token::kString, lex_string(c), line_});
      } else {
        static const char* const kOps[] = {"==", "!=", "<=", ">=", "//", "**", "<", ">", "+", "-", "*", "/", "%", "~",
                                           "|", ".", ",", ":", "(", ")", "[", "]", "{", "}", "=", "!"};
        bool matched = false;
        for (const char* op : kOps) {
          const size_t n = std::strlen(op);
          if (s_.compare(pos_, n, op) == 0) {
            out.push_back({Token::kOp, op, line_});
            pos_ += n;
            matched = true;
            break;
          }
        }
        if (!matched) throw TemplateError(std::string("unexpected character '") + c + "'", line_);
      }
    }
  }

  std::string lex_string(char quote) {
    std::string out;
    ++pos_;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      char c = s_[pos_++];
      if (c == '\n') ++line_;
      if (c != '\\' || pos_ >= s_.size()) {
        out += c;
        continue;
      }
      const char e = s_[pos_++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case '0': out += '\0'; break;
        case 'u':
        case 'x': {
          const size_t digits = e == 'u' ? 4 : 2;
          if (pos_ + digits > s_.size()) throw TemplateError("bad escape in string", line_);
          uint32_t cp = 0;
          for (size_t k = 0; k < digits; ++k) {
            const char h = s_[pos_ + k];
            const int nibble = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (nibble < 0) throw TemplateError("bad escape in string", line_);
            cp = cp * 16 + static_cast<uint32_t>(nibble);
          }
          pos_ += digits;
          if (cp < 0x80) {
            out += static_cast<char>(cp);
          } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default:  // Python keeps unknown escapes as written
          out += '\\';
          out += e;
      }
    }
    if (pos_ >= s_.size()) throw TemplateError("unterminated string literal", line_);
    ++pos_;
    return out;
  }

  std::string s_;
  size_t pos_ = 0;
  int line_ = 1;
};

// ---- expression parser ------------------------------------------------------------------------------------------

class ExprParser {
 public:
  ExprParser(const std::vector<Token>& toks) : t_(toks) {}

  const Token& peek(size_t ahead = 0) const { return t_[std::min(i_ + ahead, t_.size() - 1)]; }
  bool at_end() const { return peek().type == Token::kEnd; }
  bool is_op(const char* op, size_t ahead = 0) const { return peek(ahead).type == Token::kOp && peek(ahead).text == op; }
  bool is_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).type == Token::kName && peek(ahead).text == name;
  }
  const Token& next() { return t_[std::min(i_++, t_.size() - 1)]; }
  [[noreturn]] void fail(const std::string& what) const { throw TemplateError(what, peek().line); }
  void expect_op(const char* op) {
    if (!is_op(op)) fail(std::string("expected '") + op + "', found '" + peek().text + "'");
    ++i_;
  }
  std::string expect_name() {
    if (peek().type != Token::kName) fail("expected a name, found '" + peek().text + "'");
    return next().text;
  }
  void expect_end() {
    if (!at_end()) fail("unexpected '" + peek().text + "' at the end of a tag");
  }

  ExprPtr make(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // Records a finished node's depth (its children are final) and refuses trees too deep to evaluate safely.
  ExprPtr seal(ExprPtr e) {
    int child = 0;
    for (const ExprPtr* p : {&e->a, &e->b, &e->c})
      if (*p) child = std::max(child, (*p)->depth);
    for (const ExprPtr& item : e->items)
      if (item) child = std::max(child, item->depth);
    for (const auto& kw : e->kwargs) child = std::max(child, kw.second->depth);
    e->depth = child + 1;
    if (e->depth > kMaxSyntaxDepth) throw TemplateError("expression nested too deeply", e->line);
    return e;
  }

  // Bounds the parser's own recursion (parentheses, `not`, unary signs) before any node exists to seal.
  struct NestingGuard {
    NestingGuard(int& nesting, int line) : nesting_(nesting) {
      if (++nesting_ > kMaxSyntaxDepth) {
        --nesting_;
        throw TemplateError("expression nested too deeply", line);
      }
    }
    ~NestingGuard() { --nesting_; }
    int& nesting_;
  };

  // expression := or_expr ["if" or_expr ["else" expression]]
  ExprPtr expression(bool with_condexpr = true) {
    NestingGuard guard(nesting_, peek().line);
    ExprPtr e = or_expr();
    if (with_condexpr && is_name("if")) {
      const int line = next().line;
      auto cond = make(Expr::Kind::kCondition, line);
      cond->b = std::move(e);
      cond->a = or_expr();
      if (is_name("else")) {
        next();
        cond->c = expression();
      }
      return seal(std::move(cond));
    }
    return e;
  }

  ExprPtr binary(const char* op, ExprPtr lhs, ExprPtr rhs, int line) {
    auto e = make(Expr::Kind::kBinary, line);
    e->name = op;
    e->a = std::move(lhs);
    e->b = std::move(rhs);
    return seal(std::move(e));
  }

  ExprPtr or_expr() {
    ExprPtr e = and_expr();
    while (is_name("or")) {
      const int line = next().line;
      e = binary("or", std::move(e), and_expr(), line);
    }
    return e;
  }
  ExprPtr and_expr() {
    ExprPtr e = not_expr();
    while (is_name("and")) {
      const int line = next().line;
      e = binary("and", std::move(e), not_expr(), line);
    }
    return e;
  }
  ExprPtr not_expr() {
    if (is_name("not")) {
      const int line = next().line;
      NestingGuard guard(nesting_, line);
      auto e = make(Expr::Kind::kUnary, line);
      e->name = "not";
      e->a = not_expr();
      return seal(std::move(e));
    }
    return compare();
  }
  ExprPtr compare() {
    ExprPtr e = math1();
    for (;;) {
      const int line = peek().line;
      static const char* const kCmp[] = {"==", "!=", "<", ">", "<=", ">="};
      const char* op = nullptr;
      for (const char* c : kCmp)
        if (is_op(c)) op = c;
      if (op) {
        next();
        e = binary(op, std::move(e), math1(), line);
      } else if (is_name("in")) {
        next();
        e = binary("in", std::move(e), math1(), line);
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        e = binary("not in", std::move(e), math1(), line);
      } else {
        return e;
      }
    }
  }
  ExprPtr math1() {
    ExprPtr e = concat();
    while (is_op("+") || is_op("-")) {
      const Token& op = next();
      e = binary(op.text == "+" ? "+" : "-", std::move(e), concat(), op.line);
    }
    return e;
  }
  ExprPtr concat() {
    ExprPtr e = math2();
    while (is_op("~")) {
      const int line = next().line;
      e = binary("~", std::move(e), math2(), line);
    }
    return e;
  }
  ExprPtr math2() {
    ExprPtr e = power();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& op = next();
      const char* name = op.text == "*" ? "*" : op.text == "/" ? "/" : op.text == "//" ? "//" : "%";
      e = binary(name, std::move(e), power(), op.line);
    }
    return e;
  }
  ExprPtr power() {
    ExprPtr e = unary(true);
    while (is_op("**")) {
      const int line = next().line;
      e = binary("**", std::move(e), unary(true), line);
    }
    return e;
  }
  ExprPtr unary(bool with_filter) {
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const Token& op = next();
      NestingGuard guard(nesting_, op.line);
      e = make(Expr::Kind::kUnary, op.line);
      e->name = op.text == "-" ? "-" : "+";
      e->a = unary(false);
      e = seal(std::move(e));
    } else {
      e = postfix(primary());
    }
    return with_filter ? filter_expr(std::move(e)) : std::move(e);
  }

  ExprPtr primary() {
    const Token& tok = next();
    switch (tok.type) {
      case Token::kName: {
        if (tok.text == "true" || tok.text == "True") return literal(Value(true), tok.line);
        if (tok.text == "false" || tok.text == "False") return literal(Value(false), tok.line);
        if (tok.text == "none" || tok.text == "None") return literal(Value::none(), tok.line);
        auto e = make(Expr::Kind::kName, tok.line);
        e->name = tok.text;
        return e;
      }
      case Token::kString: {
        std::string s = tok.text;
        while (peek().type == Token::kString) s += next().text;  // adjacent literals concatenate
        return literal(Value(s), tok.line);
      }
      case Token::kInt:
        try {
          return literal(Value(static_cast<int64_t>(std::stoll(tok.text))), tok.line);
        } catch (const std::exception&) {
          throw TemplateError("integer literal out of range", tok.line);
        }
      case Token::kFloat: {
        const double v = std::strtod(tok.text.c_str(), nullptr);  // as Python: too large is inf, too small 0
        return literal(Value(v), tok.line);
      }
      case Token::kOp:
        if (tok.text == "(") {
          if (is_op(")")) {
            next();
            return make(Expr::Kind::kTuple, tok.line);
          }
          ExprPtr first = expression();
          if (is_op(",")) {
            auto tuple = make(Expr::Kind::kTuple, tok.line);
            tuple->items.push_back(std::move(first));
            while (is_op(",")) {
              next();
              if (is_op(")")) break;
              tuple->items.push_back(expression());
            }
            expect_op(")");
            return seal(std::move(tuple));
          }
          expect_op(")");
          return first;
        }
        if (tok.text == "[") {
          auto list = make(Expr::Kind::kList, tok.line);
          while (!is_op("]")) {
            list->items.push_back(expression());
            if (!is_op(",")) break;
            next();
          }
          expect_op("]");
          return seal(std::move(list));
        }
        if (tok.text == "{") {
          auto dict = make(Expr::Kind::kDict, tok.line);
          while (!is_op("}")) {
            dict->items.push_back(expression());
            expect_op(":");
            dict->items.push_back(expression());
            if (!is_op(",")) break;
            next();
          }
          expect_op("}");
          return seal(std::move(dict));
        }
        [[fallthrough]];
      default: throw TemplateError("unexpected '" + tok.text + "' in an expression", tok.line);
    }
  }

  ExprPtr literal(Value v, int line) {
    auto e = make(Expr::Kind::kLiteral, line);
    e->value = std::move(v);
    return e;
  }

  ExprPtr postfix(ExprPtr e) {
    for (;;) {
      if (is_op(".")) {
        const int line = next().line;
        auto attr = make(Expr::Kind::kAttr, line);
        if (peek().type == Token::kInt) {  // foo.0 is foo[0]
          attr->kind = Expr::Kind::kItem;
          const Token& index = next();
          try {
            attr->b = literal(Value(static_cast<int64_t>(std::stoll(index.text))), line);
          } catch (const std::exception&) {
            throw TemplateError("integer literal out of range", index.line);
          }
        } else {
          attr->name = expect_name();
        }
        attr->a = std::move(e);
        e = seal(std::move(attr));
      } else if (is_op("[")) {
        const int line = next().line;
        ExprPtr start, stop, step;
        bool is_slice = false;
        if (!is_op(":")) start = expression();
        if (is_op(":")) {
          is_slice = true;
          next();
          if (!is_op("]") && !is_op(":")) stop = expression();
          if (is_op(":")) {
            next();
            if (!is_op("]")) step = expression();
          }
        }
        expect_op("]");
        auto item = make(is_slice ? Expr::Kind::kSlice : Expr::Kind::kItem, line);
        item->a = std::move(e);
        if (is_slice) {
          item->items.push_back(std::move(start));
          item->items.push_back(std::move(stop));
          item->items.push_back(std::move(step));
        } else {
          item->b = std::move(start);
        }
        e = seal(std::move(item));
      } else if (is_op("(")) {
        e = call(std::move(e));
      } else {
        return e;
      }
    }
  }

  void call_args(Expr& target) {
    expect_op("(");
    while (!is_op(")")) {
      if (peek().type == Token::kName && is_op("=", 1)) {
        std::string key = next().text;
        next();
        target.kwargs.emplace_back(key, expression());
      } else {
        target.items.push_back(expression());
      }
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
  }

  ExprPtr call(ExprPtr callee) {
    auto e = make(Expr::Kind::kCall, peek().line);
    e->a = std::move(callee);
    call_args(*e);
    return seal(std::move(e));
  }

  ExprPtr filter_expr(ExprPtr e) {
    for (;;) {
      if (is_op("|")) {
        const int line = next().line;
        auto f = make(Expr::Kind::kFilter, line);
        f->name = dotted_name();
        f->a = std::move(e);
        if (is_op("(")) call_args(*f);
        e = seal(std::move(f));
      } else if (is_name("is")) {
        const int line = next().line;
        auto t = make(Expr::Kind::kTest, line);
        if (is_name("not")) {
          next();
          t->negated = true;
        }
        t->name = dotted_name();
        t->a = std::move(e);
        if (is_op("(")) {
          call_args(*t);
        } else if (starts_test_argument()) {
          t->items.push_back(unary(false));  // jinja2: a bare argument, e.g. "is divisibleby 3"
        }
        e = seal(std::move(t));
      } else if (is_op("(")) {
        e = call(std::move(e));
      } else {
        return e;
      }
    }
  }

  bool starts_test_argument() const {
    const Token& t = peek();
    if (t.type == Token::kString || t.type == Token::kInt || t.type == Token::kFloat) return true;
    if (t.type == Token::kName) {
      static const char* const kStop[] = {"else", "or", "and", "is", "in", "not", "if"};
      for (const char* s : kStop)
        if (t.text == s) return false;
      return true;
    }
    return t.type == Token::kOp && (t.text == "[" || t.text == "{" || t.text == "-");
  }

  std::string dotted_name() {
    std::string name = expect_name();
    while (is_op(".") && peek(1).type == Token::kName) {
      next();
      name += "." + next().text;
    }
    return name;
  }

  const std::vector<Token>& t_;
  size_t i_ = 0;
  int nesting_ = 0;
};

// ---- statement parser -------------------------------------------------------------------------------------------

class Parser {
 public:
  explicit Parser(std::vector<Segment> segments) : segs_(std::move(segments)) {}

  Body parse() {
    Body body;
    std::string end = parse_body(body, {});
    if (!end.empty()) throw TemplateError("unexpected '{% " + end + " %}'", current_line_);
    return body;
  }

 private:
  // Parses statements until a block tag whose first word is in `stops`; returns that word ("" at the end).
  // The stopping tag's tokens are left in `stop_tokens_`.
  std::string parse_body(Body& body, std::initializer_list<const char*> stops) {
    if (++block_depth_ > kMaxSyntaxDepth) throw TemplateError("blocks nested too deeply", current_line_);
    struct Leave {
      int& depth;
      ~Leave() { --depth; }
    } leave{block_depth_};
    while (i_ < segs_.size()) {
      Segment& seg = segs_[i_++];
      current_line_ = seg.line;
      if (seg.type == Segment::kText) {
        auto st = std::make_unique<Stmt>();
        st->kind = Stmt::Kind::kText;
        st->line = seg.line;
        st->text = std::move(seg.text);
        body.push_back(std::move(st));
        continue;
      }
      ExprParser ep(seg.tokens);
      if (seg.type == Segment::kOutput) {
        auto st = std::make_unique<Stmt>();
        st->kind = Stmt::Kind::kOutput;
        st->line = seg.line;
        st->expr = ep.expression();
        ep.expect_end();
        body.push_back(std::move(st));
        continue;
      }
      if (ep.at_end()) throw TemplateError("empty block tag", seg.line);
      const std::string word = ep.expect_name();
      for (const char* stop : stops) {
        if (word == stop) {
          stop_tokens_ = &seg.tokens;
          stop_parser_ = std::make_unique<ExprParser>(seg.tokens);
          stop_parser_->next();
          return word;
        }
      }
      body.push_back(statement(word, ep, seg.line));
    }
    return "";
  }

  StmtPtr statement(const std::string& word, ExprParser& ep, int line) {
    auto st = std::make_unique<Stmt>();
    st->line = line;
    if (word == "if") {
      st->kind = Stmt::Kind::kIf;
      ExprPtr cond = ep.expression();
      ep.expect_end();
      for (;;) {
        Body branch;
        const std::string end = parse_body(branch, {"elif", "else", "endif"});
        st->branches.emplace_back(std::move(cond), std::move(branch));
        if (end == "elif") {
          cond = stop_parser_->expression();
          stop_parser_->expect_end();
          continue;
        }
        if (end == "else") {
          stop_parser_->expect_end();
          if (parse_body(st->else_body, {"endif"}) != "endif") throw TemplateError("missing '{% endif %}'", line);
        } else if (end != "endif") {
          throw TemplateError("missing '{% endif %}'", line);
        }
        break;
      }
    } else if (word == "for") {
      st->kind = Stmt::Kind::kFor;
      do {
        st->targets.push_back(ep.expect_name());
        if (!ep.is_op(",")) break;
        ep.next();
      } while (true);
      if (!ep.is_name("in")) ep.fail("expected 'in' in a for loop");
      ep.next();
      st->expr = ep.expression(false);
      if (ep.is_name("if")) {
        ep.next();
        st->cond = ep.expression(false);
      }
      if (ep.is_name("recursive")) ep.fail("recursive loops are not supported");
      ep.expect_end();
      const std::string end = parse_body(st->body, {"else", "endfor"});
      if (end == "else") {
        stop_parser_->expect_end();
        if (parse_body(st->else_body, {"endfor"}) != "endfor") throw TemplateError("missing '{% endfor %}'", line);
      } else if (end != "endfor") {
        throw TemplateError("missing '{% endfor %}'", line);
      }
    } else if (word == "set") {
      st->kind = Stmt::Kind::kSet;
      std::string first = ep.expect_name();
      if (ep.is_op(".")) {
        ep.next();
        st->attr_object = first;
        st->attr_name = ep.expect_name();
      } else {
        st->targets.push_back(first);
        while (ep.is_op(",")) {
          ep.next();
          st->targets.push_back(ep.expect_name());
        }
      }
      if (ep.is_op("=")) {
        ep.next();
        st->expr = ep.expression();
        if (ep.is_op(",")) {  // a, b = 1, 2
          auto tuple = ep.make(Expr::Kind::kTuple, line);
          tuple->items.push_back(std::move(st->expr));
          while (ep.is_op(",")) {
            ep.next();
            tuple->items.push_back(ep.expression());
          }
          st->expr = std::move(tuple);
        }
        ep.expect_end();
      } else {
        if (ep.is_op("|")) {  // {% set x | filter %}...{% endset %}
          auto f = ep.filter_expr(ep.literal(Value(), line));
          st->cond = std::move(f);
        }
        ep.expect_end();
        if (parse_body(st->body, {"endset"}) != "endset") throw TemplateError("missing '{% endset %}'", line);
      }
    } else if (word == "macro") {
      st->kind = Stmt::Kind::kMacro;
      st->name = ep.expect_name();
      ep.expect_op("(");
      while (!ep.is_op(")")) {
        std::string param = ep.expect_name();
        ExprPtr def;
        if (ep.is_op("=")) {
          ep.next();
          def = ep.expression();
        }
        st->params.emplace_back(param, std::move(def));
        if (!ep.is_op(",")) break;
        ep.next();
      }
      ep.expect_op(")");
      ep.expect_end();
      if (parse_body(st->body, {"endmacro"}) != "endmacro") throw TemplateError("missing '{% endmacro %}'", line);
    } else if (word == "filter") {
      st->kind = Stmt::Kind::kFilterBlock;
      auto f = std::make_unique<Expr>();
      f->kind = Expr::Kind::kFilter;
      f->line = line;
      f->name = ep.dotted_name();
      if (ep.is_op("(")) ep.call_args(*f);
      st->expr = std::move(f);
      ep.expect_end();
      if (parse_body(st->body, {"endfilter"}) != "endfilter") throw TemplateError("missing '{% endfilter %}'", line);
    } else if (word == "break" || word == "continue") {
      st->kind = word == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
      ep.expect_end();
    } else if (word == "generation") {  // Hugging Face's AssistantTracker tag: renders its body unchanged
      ep.expect_end();
      st->kind = Stmt::Kind::kIf;
      auto yes = std::make_unique<Expr>();
      yes->kind = Expr::Kind::kLiteral;
      yes->value = Value(true);
      Body inner;
      if (parse_body(inner, {"endgeneration"}) != "endgeneration")
        throw TemplateError("missing '{% endgeneration %}'", line);
      st->branches.emplace_back(std::move(yes), std::move(inner));
    } else {
      throw TemplateError("unknown tag '" + word + "' (not supported)", line);
    }
    return st;
  }

  std::vector<Segment> segs_;
  size_t i_ = 0;
  int current_line_ = 1;
  const std::vector<Token>* stop_tokens_ = nullptr;
  std::unique_ptr<ExprParser> stop_parser_;
  int block_depth_ = 0;
};

}  // namespace

Body parse_template(const std::string& source) {
  Lexer lexer(source);
  Parser parser(lexer.run());
  return parser.parse();
}

}  // namespace fm::jinja
