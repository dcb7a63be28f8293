#include "chat/template.h"

#include <cmath>
#include <unordered_map>

#include "chat/builtins.h"

namespace fm::jinja {
namespace {

struct LoopBreak {};
struct LoopContinue {};

constexpr int kMaxDepth = 256;          // macro recursion, loops and expression evaluation, together
constexpr size_t kMaxOutput = 64 << 20;  // a template may not produce more than 64 MiB, nor any string that long

using Frame = std::unordered_map<std::string, Value>;

class Renderer final : public FilterApplier {
 public:
  Renderer(const ValueDict& vars, uint64_t max_steps) : max_steps_(max_steps) {
    scopes_.push_back(std::make_shared<Frame>());
    for (const auto& [k, v] : global_functions().items) (*scopes_[0])[k.str_ref()] = v;
    for (const auto& [k, v] : vars.items) (*scopes_[0])[k.str()] = v;
  }

  void exec(const Body& body, std::string& out) {
    for (const StmtPtr& st : body) exec(*st, out);
  }

  Value apply_filter(const std::string& name, const Value& input, const CallArgs& args, int line) override {
    return call_filter(name, input, args, *this, line);
  }
  bool apply_test(const std::string& name, const Value& input, const CallArgs& args, int line) override {
    return call_test(name, input, args, line);
  }

 private:
  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto found = (*it)->find(name);
      if (found != (*it)->end()) return found->second;
    }
    return Value::undefined(name);
  }
  void assign(const std::string& name, Value v) { (*scopes_.back())[name] = std::move(v); }

  void emit(std::string& out, const std::string& text) {
    charge(text.size() / 64);
    out += text;
    if (out.size() > kMaxOutput) throw TemplateError("template output exceeds 64 MiB");
  }

  // Work done so far, in evaluation steps plus copied elements: a template cannot run without bound.
  void charge(uint64_t steps) {
    steps_ += steps + 1;
    if (steps_ > max_steps_) throw TemplateError("the template exceeded its evaluation budget");
  }

  void exec(const Stmt& st, std::string& out) {
    charge(0);
    switch (st.kind) {
      case Stmt::Kind::kText: emit(out, st.text); break;
      case Stmt::Kind::kOutput: emit(out, eval(*st.expr).str()); break;
      case Stmt::Kind::kIf:
        for (const auto& [cond, body] : st.branches) {
          if (eval(*cond).truthy()) {
            exec(body, out);
            return;
          }
        }
        exec(st.else_body, out);
        break;
      case Stmt::Kind::kFor: exec_for(st, out); break;
      case Stmt::Kind::kSet: exec_set(st); break;
      case Stmt::Kind::kMacro: define_macro(st); break;
      case Stmt::Kind::kFilterBlock: {
        std::string inner;
        exec(st.body, inner);
        emit(out, apply_filter_expr(*st.expr, Value(inner)).str());
        break;
      }
      case Stmt::Kind::kBreak: throw LoopBreak{};
      case Stmt::Kind::kContinue: throw LoopContinue{};
    }
  }

  void exec_for(const Stmt& st, std::string& out) {
    const Value iterable = eval(*st.expr);
    ValueList items;
    if (iterable.kind() == Value::Kind::kDict) {
      for (const auto& kv : iterable.dict_ref().items) items.push_back(kv.first);
    } else if (iterable.is_list()) {
      items = iterable.list_ref();
    } else if (iterable.is_string()) {
      for (auto& c : utf8_chars(iterable.str_ref())) items.push_back(Value(c));
    } else if (!iterable.is_undefined()) {
      throw TemplateError("'" + iterable.type_name() + "' object is not iterable", st.line);
    }
    // Bind loop targets in a scratch frame to apply the `if` filter before counting (loop.length excludes them).
    auto bind = [&](Frame& frame, const Value& item) {
      if (st.targets.size() == 1) {
        frame[st.targets[0]] = item;
        return;
      }
      const ValueList parts = item.is_list() ? item.list_ref() : ValueList{};
      if (parts.size() != st.targets.size())
        throw TemplateError("cannot unpack " + item.type_name() + " into " + std::to_string(st.targets.size()) + " names", st.line);
      for (size_t k = 0; k < parts.size(); ++k) frame[st.targets[k]] = parts[k];
    };
    if (st.cond) {
      ValueList kept;
      for (const Value& item : items) {
        scopes_.push_back(std::make_shared<Frame>());
        bind(*scopes_.back(), item);
        const bool keep = eval(*st.cond).truthy();
        scopes_.pop_back();
        if (keep) kept.push_back(item);
      }
      items.swap(kept);
    }
    if (items.empty()) {
      exec(st.else_body, out);
      return;
    }
    depth_guard guard(depth_, st.line);
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      charge(1);
      scopes_.push_back(std::make_shared<Frame>());
      bind(*scopes_.back(), items[static_cast<size_t>(i)]);
      ValueDict loop;
      loop.set(Value("index"), Value(i + 1));
      loop.set(Value("index0"), Value(i));
      loop.set(Value("revindex"), Value(n - i));
      loop.set(Value("revindex0"), Value(n - i - 1));
      loop.set(Value("first"), Value(i == 0));
      loop.set(Value("last"), Value(i == n - 1));
      loop.set(Value("length"), Value(n));
      loop.set(Value("depth"), Value(int64_t{1}));
      loop.set(Value("depth0"), Value(int64_t{0}));
      loop.set(Value("previtem"), i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("previtem"));
      loop.set(Value("nextitem"), i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("nextitem"));
      loop.set(Value("cycle"), Value::function("cycle", [i](const CallArgs& a) {
                 if (a.positional.empty()) throw TemplateError("no items for cycling given");
                 return a.positional[static_cast<size_t>(i) % a.positional.size()];
               }));
      (*scopes_.back())["loop"] = Value::dict(std::move(loop));
      bool stop = false;
      try {
        exec(st.body, out);
      } catch (const LoopContinue&) {
      } catch (const LoopBreak&) {
        stop = true;
      }
      scopes_.pop_back();
      if (stop) break;
    }
  }

  void exec_set(const Stmt& st) {
    Value v;
    if (st.expr) {
      v = eval(*st.expr);
    } else {
      std::string captured;
      exec(st.body, captured);
      v = Value(captured);
      if (st.cond) v = apply_filter_expr(*st.cond, v);
    }
    if (!st.attr_object.empty()) {
      Value ns = lookup(st.attr_object);
      if (ns.kind() != Value::Kind::kNamespace)
        throw TemplateError("cannot assign attribute on non-namespace object '" + st.attr_object + "'", st.line);
      // A namespace inside a namespace could form a cycle (leaked, and endless to print): not allowed.
      if (v.holds_namespace()) throw TemplateError("a namespace attribute cannot hold a namespace", st.line);
      ns.dict_mut().set(Value(st.attr_name), std::move(v));
      return;
    }
    if (st.targets.size() == 1) {
      assign(st.targets[0], std::move(v));
      return;
    }
    if (!v.is_list() || v.list_ref().size() != st.targets.size())
      throw TemplateError("cannot unpack into " + std::to_string(st.targets.size()) + " names", st.line);
    for (size_t k = 0; k < st.targets.size(); ++k) assign(st.targets[k], v.list_ref()[k]);
  }

  void define_macro(const Stmt& st) {
    const Stmt* macro = &st;
    // Macros see the template's top-level variables. Weak: the macro itself lives in that frame.
    std::weak_ptr<Frame> defining_scope = scopes_.front();
    assign(st.name, Value::function(st.name, [this, macro, defining_scope](const CallArgs& a) {
             depth_guard guard(depth_, macro->line);
             auto saved = std::move(scopes_);
             scopes_ = {defining_scope.lock(), std::make_shared<Frame>()};
             std::string out;
             try {
               for (size_t k = 0; k < macro->params.size(); ++k) {
                 const auto& [param, def] = macro->params[k];
                 Value v;
                 if (k < a.positional.size()) v = a.positional[k];
                 else if (const Value* kw = a.kw(param)) v = *kw;
                 else if (def) v = eval(*def);
                 else v = Value::undefined(param);
                 assign(param, std::move(v));
               }
               ValueList varargs;
               for (size_t k = macro->params.size(); k < a.positional.size(); ++k) varargs.push_back(a.positional[k]);
               assign("varargs", Value::list(std::move(varargs)));
               exec(macro->body, out);
             } catch (...) {
               scopes_ = std::move(saved);
               throw;
             }
             scopes_ = std::move(saved);
             return Value(out);
           }));
  }

  struct depth_guard {
    depth_guard(int& depth, int line) : depth_(depth) {
      if (++depth_ > kMaxDepth) {
        --depth_;
        throw TemplateError("maximum recursion depth exceeded", line);
      }
    }
    ~depth_guard() { --depth_; }
    int& depth_;
  };

  CallArgs eval_args(const Expr& e) {
    CallArgs args;
    for (const ExprPtr& p : e.items) args.positional.push_back(eval(*p));
    for (const auto& [k, v] : e.kwargs) args.keyword.emplace_back(k, eval(*v));
    return args;
  }

  Value apply_filter_expr(const Expr& f, const Value& input) {
    return apply_filter(f.name, input, eval_args(f), f.line);
  }

  Value eval(const Expr& e) {
    charge(0);
    depth_guard guard(depth_, e.line);
    try {
      return eval_inner(e);
    } catch (const TemplateError& err) {
      if (err.line() > 0) throw;
      throw TemplateError(err.what(), e.line);
    }
  }

  Value eval_inner(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral: return e.value;
      case Expr::Kind::kName: return lookup(e.name);
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        ValueList items;
        for (const ExprPtr& item : e.items) items.push_back(eval(*item));
        return Value::list(std::move(items));
      }
      case Expr::Kind::kDict: {
        ValueDict d;
        for (size_t k = 0; k + 1 < e.items.size(); k += 2) d.set(eval(*e.items[k]), eval(*e.items[k + 1]));
        return Value::dict(std::move(d));
      }
      case Expr::Kind::kAttr: return get_attribute(eval(*e.a), e.name, e.line);
      case Expr::Kind::kItem: return get_item(eval(*e.a), eval(*e.b), e.line);
      case Expr::Kind::kSlice: return slice(eval(*e.a), e);
      case Expr::Kind::kCall: {
        const Value callee = eval(*e.a);
        return callee.call(eval_args(e));
      }
      case Expr::Kind::kFilter: return apply_filter_expr(e, eval(*e.a));
      case Expr::Kind::kTest: {
        const bool result = call_test(e.name, eval(*e.a), eval_args(e), e.line);
        return Value(result != e.negated);
      }
      case Expr::Kind::kUnary: {
        const Value v = eval(*e.a);
        if (e.name == "not") return Value(!v.truthy());
        if (v.is_undefined()) throw TemplateError("'" + v.undefined_name() + "' is undefined", e.line);
        if (e.name == "-") {
          if (v.kind() == Value::Kind::kFloat) return Value(-v.as_double());
          if (v.as_int() == INT64_MIN) throw TemplateError("integer overflow", e.line);
          return Value(-v.as_int());
        }
        return v;
      }
      case Expr::Kind::kCondition:
        if (eval(*e.a).truthy()) return eval(*e.b);
        return e.c ? eval(*e.c) : Value::undefined("conditional");
      case Expr::Kind::kBinary: return binary(e);
    }
    return Value();
  }

  Value slice(const Value& obj, const Expr& e) {
    auto part = [&](size_t k) -> Value { return e.items[k] ? eval(*e.items[k]) : Value::none(); };
    const Value start = part(0), stop = part(1), step_v = part(2);
    const int64_t step = step_v.is_none() ? 1 : step_v.as_int();
    if (step == 0) throw TemplateError("slice step cannot be zero", e.line);
    ValueList items;
    std::vector<std::string> chars;
    const bool is_str = obj.is_string();
    if (is_str) chars = utf8_chars(obj.str_ref());
    else items = obj.list_ref();
    const int64_t n = static_cast<int64_t>(is_str ? chars.size() : items.size());
    auto clamp = [&](const Value& v, int64_t def) {
      if (v.is_none()) return def;
      int64_t i = v.as_int();
      if (i < 0) i += n;
      if (step > 0) return std::max<int64_t>(0, std::min(i, n));
      return std::max<int64_t>(-1, std::min(i, n - 1));
    };
    const int64_t b = clamp(start, step > 0 ? 0 : n - 1), end = clamp(stop, step > 0 ? n : -1);
    std::string s;
    ValueList out;
    for (int64_t i = b; step > 0 ? i < end : i > end; i += step) {
      if (is_str) s += chars[static_cast<size_t>(i)];
      else out.push_back(items[static_cast<size_t>(i)]);
    }
    return is_str ? Value(s) : Value::list(std::move(out));
  }

  Value binary(const Expr& e) {
    const std::string& op = e.name;
    if (op == "and") {
      Value l = eval(*e.a);
      return l.truthy() ? eval(*e.b) : l;
    }
    if (op == "or") {
      Value l = eval(*e.a);
      return l.truthy() ? l : eval(*e.b);
    }
    const Value l = eval(*e.a), r = eval(*e.b);
    if (op == "~") return Value(bounded_string(l.str() + r.str(), e.line));
    if (op == "==") return Value(l.equals(r));
    if (op == "!=") return Value(!l.equals(r));
    if (op == "in" || op == "not in") {
      bool found = false;
      if (r.is_string()) {
        if (!l.is_string()) throw TemplateError("'in <string>' requires string as left operand", e.line);
        found = r.str_ref().find(l.str_ref()) != std::string::npos;
      } else if (r.kind() == Value::Kind::kDict) {
        found = r.dict_ref().find(l) != nullptr;
      } else if (r.is_list()) {
        for (const Value& item : r.list_ref()) found |= item.equals(l);
      } else if (!r.is_undefined()) {
        throw TemplateError("argument of type '" + r.type_name() + "' is not iterable", e.line);
      }
      return Value(found == (op == "in"));
    }
    if (l.is_undefined() || r.is_undefined())
      throw TemplateError("'" + (l.is_undefined() ? l : r).undefined_name() + "' is undefined", e.line);
    if (op == "<") return Value(l.compare(r) < 0);
    if (op == ">") return Value(l.compare(r) > 0);
    if (op == "<=") return Value(l.compare(r) <= 0);
    if (op == ">=") return Value(l.compare(r) >= 0);
    if (op == "+") {
      if (l.is_string() && r.is_string()) {
        if (l.is_markup() || r.is_markup())  // Markup + str escapes the plain side
          return Value::markup((l.is_markup() ? l.str_ref() : html_escape(l.str_ref())) +
                               (r.is_markup() ? r.str_ref() : html_escape(r.str_ref())));
        return Value(bounded_string(l.str_ref() + r.str_ref(), e.line));
      }
      if (l.is_list() && r.is_list()) {
        charge(l.list_ref().size() + r.list_ref().size());
        ValueList items = l.list_ref();
        items.insert(items.end(), r.list_ref().begin(), r.list_ref().end());
        return Value::list(std::move(items));
      }
    }
    if (op == "*" && (l.is_string() || l.is_list()) && r.kind() == Value::Kind::kInt) {
      const uint64_t unit = l.is_string() ? l.str_ref().size() : l.list_ref().size();
      const uint64_t times = r.as_int() > 0 ? static_cast<uint64_t>(r.as_int()) : 0;
      if (unit > 0 && times > kMaxOutput / unit) throw TemplateError("repetition result too large", e.line);
      charge(unit * times / (l.is_string() ? 64 : 1));
      if (l.is_string()) {
        std::string s;
        for (int64_t k = 0; k < r.as_int(); ++k) s += l.str_ref();
        return Value(s);
      }
      ValueList items;
      for (int64_t k = 0; k < r.as_int(); ++k) items.insert(items.end(), l.list_ref().begin(), l.list_ref().end());
      return Value::list(std::move(items));
    }
    if (!l.is_number() || !r.is_number())
      throw TemplateError("unsupported operand type(s) for " + op + ": '" + l.type_name() + "' and '" + r.type_name() + "'", e.line);
    const bool floats = l.kind() == Value::Kind::kFloat || r.kind() == Value::Kind::kFloat;
    if (op == "/") {
      if (r.as_double() == 0) throw TemplateError("division by zero", e.line);
      return Value(l.as_double() / r.as_double());
    }
    if (op == "**") {
      if (!floats && r.as_int() >= 0) {
        const int64_t base = l.as_int(), exponent = r.as_int();
        if (base == 0 || base == 1) return Value(exponent == 0 ? int64_t{1} : base);
        if (base == -1) return Value(exponent % 2 == 0 ? int64_t{1} : int64_t{-1});
        int64_t result = 1;  // |base| >= 2 overflows within 63 steps
        for (int64_t k = 0; k < exponent; ++k)
          if (__builtin_mul_overflow(result, base, &result)) throw TemplateError("integer overflow", e.line);
        return Value(result);
      }
      return Value(std::pow(l.as_double(), r.as_double()));
    }
    if (floats) {
      const double x = l.as_double(), y = r.as_double();
      if (op == "+") return Value(x + y);
      if (op == "-") return Value(x - y);
      if (op == "*") return Value(x * y);
      if (y == 0) throw TemplateError("division by zero", e.line);
      if (op == "//") return Value(std::floor(x / y));
      return Value(x - std::floor(x / y) * y);  // %
    }
    const int64_t x = l.as_int(), y = r.as_int();
    int64_t result = 0;
    bool overflow = false;
    if (op == "+") overflow = __builtin_add_overflow(x, y, &result);
    else if (op == "-") overflow = __builtin_sub_overflow(x, y, &result);
    else if (op == "*") overflow = __builtin_mul_overflow(x, y, &result);
    // Python's integers do not overflow; ours are 64-bit, so an overflow is an error rather than a wrong number.
    if (overflow) throw TemplateError("integer overflow", e.line);
    if (op == "+" || op == "-" || op == "*") return Value(result);
    if (y == 0) throw TemplateError("division by zero", e.line);
    if (x == INT64_MIN && y == -1) throw TemplateError("integer overflow", e.line);
    const int64_t q = x / y - ((x % y != 0) && ((x < 0) != (y < 0)) ? 1 : 0);  // Python floors
    if (op == "//") return Value(q);
    return Value(x - q * y);
  }

  std::string bounded_string(std::string s, int line) {
    if (s.size() > kMaxOutput) throw TemplateError("string result too large", line);
    charge(s.size() / 64);
    return s;
  }

  std::vector<std::shared_ptr<Frame>> scopes_;
  int depth_ = 0;
  uint64_t steps_ = 0;
  const uint64_t max_steps_;
};

}  // namespace

Template::Template(const std::string& source) : body_(parse_template(source)) {}

std::string Template::render(const ValueDict& variables, uint64_t max_steps) const {
  Renderer renderer(variables, max_steps);
  std::string out;
  try {
    renderer.exec(body_, out);
  } catch (const LoopBreak&) {
    throw TemplateError("'break' outside a loop");
  } catch (const LoopContinue&) {
    throw TemplateError("'continue' outside a loop");
  }
  return out;
}

}  // namespace fm::jinja
