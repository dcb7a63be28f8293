#pragma once
// Values of the template language with Python semantics: what jinja2 templates see when Hugging Face renders a
// chat template (dicts keep insertion order; str() and repr() print as Python does).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fm::jinja {

class Value;
using ValueList = std::vector<Value>;

// Ordered dictionary (Python dict): keys in insertion order.
struct ValueDict {
  std::vector<std::pair<Value, Value>> items;
  const Value* find(const Value& key) const;
  void set(const Value& key, Value value);
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  const Value* kw(const std::string& name) const;
};

using NativeFunction = std::function<Value(const CallArgs&)>;

// Errors from rendering: the template raised, or used a value the wrong way. Carries the template line.
class TemplateError : public std::runtime_error {
 public:
  explicit TemplateError(const std::string& what, int line = 0)
      : std::runtime_error(line > 0 ? "line " + std::to_string(line) + ": " + what : what), line_(line) {}
  int line() const { return line_; }

 private:
  int line_;
};

// Deepest nesting of lists and dicts a value may have: every walk over a value (str, tojson, ==, sorting,
// destruction) recurses on it.
inline constexpr int kMaxValueDepth = 1000;

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction, kNamespace };

  Value() = default;  // undefined
  static Value none();
  Value(bool b);
  Value(int v) : Value(static_cast<int64_t>(v)) {}
  Value(int64_t v);
  Value(double v);
  Value(std::string s);
  Value(const char* s) : Value(std::string(s)) {}
  static Value list(ValueList items = {});
  // The lazy result of map/select/reject/unique: iterates like a list, but has no len(), is always true and is not
  // JSON serializable (as in jinja2, until `| list`).
  static Value generator(ValueList items);
  static Value dict(ValueDict d = {});
  static Value function(std::string name, NativeFunction fn);
  static Value namespace_object(ValueDict attributes = {});
  static Value undefined(std::string name);  // remembers the name for error messages
  static Value from_json(const nlohmann::json& j);
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat || kind_ == Kind::kBool; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_generator() const { return kind_ == Kind::kList && lazy_or_markup_; }
  // markupsafe.Markup: a string marked safe by |safe or |escape; concatenating a plain string to it escapes that
  // string (Markup.__add__ / __radd__), which templates such as functionary's rely on.
  static Value markup(std::string s);
  bool is_markup() const { return kind_ == Kind::kString && lazy_or_markup_; }
  bool is_dict() const { return kind_ == Kind::kDict || kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kFunction; }
  int depth() const { return depth_; }  // 0 for scalars; 1 + the deepest item for lists and dicts
  bool holds_namespace() const { return holds_namespace_; }  // is or contains a namespace object

  bool truthy() const;
  int64_t as_int() const;       // bools and ints; throws otherwise
  double as_double() const;     // numbers
  const std::string& str_ref() const;  // the string of a kString
  const ValueList& list_ref() const;
  ValueList& list_mut();
  const ValueDict& dict_ref() const;
  ValueDict& dict_mut();
  const std::string& undefined_name() const { return s_; }
  Value call(const CallArgs& args) const;

  std::string str() const;   // Python str()
  std::string repr() const;  // Python repr()
  nlohmann::json to_json() const;
  std::string type_name() const;

  // Python ==, and ordering for sort/compare (throws TemplateError for unorderable types).
  bool equals(const Value& other) const;
  int compare(const Value& other) const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool lazy_or_markup_ = false;  // lists: a jinja2 generator; strings: markupsafe.Markup
  bool holds_namespace_ = false;
  uint16_t depth_ = 0;  // fixed at construction (throws TemplateError beyond kMaxValueDepth)
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::shared_ptr<ValueList> list_;
  std::shared_ptr<ValueDict> dict_;
  std::shared_ptr<NativeFunction> fn_;
};

// Python's repr() of a float (shortest round-trip digits, "1.0", "1e+16", "inf", "nan").
std::string python_float_repr(double v);
// Python's json.dumps(v, ensure_ascii=False, indent=indent, separators=..., sort_keys=...).
std::string python_json_dumps(const Value& v, int indent, const std::string& item_sep, const std::string& key_sep,
                              bool sort_keys);
// Code point length and slicing of UTF-8 strings (Python str semantics).
size_t utf8_length(const std::string& s);
std::vector<std::string> utf8_chars(const std::string& s);

}  // namespace fm::jinja
