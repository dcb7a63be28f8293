#pragma once
// Syntax tree of a parsed template. Expressions and statements carry their source line for error messages.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace fm::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,    // value
    kName,       // name
    kList,       // items
    kTuple,      // items (a Python tuple; behaves as a list here)
    kDict,       // items as key, value pairs
    kAttr,       // object . name
    kItem,       // object [ index ]
    kSlice,      // object [ a : b : c ] (absent parts are null)
    kCall,       // callee ( args )
    kFilter,     // operand | name ( args ); operand null inside {% filter %}
    kTest,       // operand is [not] name ( args )
    kUnary,      // op operand: "not", "-", "+"
    kBinary,     // lhs op rhs: arithmetic, comparison, "in", "not in", "and", "or", "~"
    kCondition,  // then_expr if cond else else_expr
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;  // kName, kAttr, kFilter, kTest, kUnary/kBinary operator
  bool negated = false;  // kTest
  ExprPtr a, b, c;       // operands: object/lhs/cond, index/rhs/then, else/slice step
  std::vector<ExprPtr> items;  // list/tuple/dict (dict: alternating key, value), call positional args
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // call keyword args
  int depth = 1;  // nodes on the longest path down to a leaf; the parser bounds it (evaluation recurses on it)
};

// Deepest nesting the parser accepts, for expressions and for statement blocks: deeper trees would exhaust the
// stack when evaluated or destroyed.
inline constexpr int kMaxSyntaxDepth = 128;

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  enum class Kind {
    kText,      // text
    kOutput,    // {{ expr }}
    kIf,        // branches: (cond, body)...; else_body
    kFor,       // targets in iter [if cond] body [else else_body]
    kSet,       // targets (or ns.attr) = expr, or block set (body)
    kMacro,     // name(params = defaults) body
    kFilterBlock,  // {% filter f %} body
    kBreak,
    kContinue,
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;                        // output / for iterable / set value / filter expression
  ExprPtr cond;                        // for ... if cond
  std::vector<std::pair<ExprPtr, Body>> branches;  // if/elif
  Body body, else_body;
  std::vector<std::string> targets;    // for/set names; set: "ns.attr" form uses attr_target
  std::string attr_object, attr_name;  // set ns.attr
  std::string name;                    // macro name
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro params with optional defaults
};

// Parses a template with Hugging Face's settings: trim_blocks, lstrip_blocks, no trailing newline kept.
// Throws TemplateError naming the line.
Body parse_template(const std::string& source);

}  // namespace fm::jinja
