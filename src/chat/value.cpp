#include "chat/value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace fm::jinja {

// ---- dict / args ----------------------------------------------------------------------------------------------

const Value* ValueDict::find(const Value& key) const {
  for (const auto& [k, v] : items)
    if (k.equals(key)) return &v;
  return nullptr;
}

void ValueDict::set(const Value& key, Value value) {
  for (auto& [k, v] : items) {
    if (k.equals(key)) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(key, std::move(value));
}

const Value* CallArgs::kw(const std::string& name) const {
  for (const auto& [k, v] : keyword)
    if (k == name) return &v;
  return nullptr;
}

// ---- construction ---------------------------------------------------------------------------------------------

Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}
Value::Value(bool b) : kind_(Kind::kBool), b_(b) {}
Value::Value(int64_t v) : kind_(Kind::kInt), i_(v) {}
Value::Value(double v) : kind_(Kind::kFloat), f_(v) {}
Value::Value(std::string s) : kind_(Kind::kString), s_(std::move(s)) {}

namespace {
// The depth of a container of `items`, and whether any of them is or holds a namespace.
template <typename Each>
void measure(Each each, uint16_t& depth, bool& holds_namespace) {
  int deepest = 0;
  each([&](const Value& item) {
    deepest = std::max(deepest, item.depth());
    holds_namespace |= item.holds_namespace();
  });
  if (deepest + 1 > kMaxValueDepth) throw TemplateError("value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  depth = static_cast<uint16_t>(deepest + 1);
}
}  // namespace

Value Value::list(ValueList items) {
  Value v;
  measure([&](auto&& f) { for (const Value& i : items) f(i); }, v.depth_, v.holds_namespace_);
  v.kind_ = Kind::kList;
  v.list_ = std::make_shared<ValueList>(std::move(items));
  return v;
}
Value Value::generator(ValueList items) {
  Value v = list(std::move(items));
  v.lazy_or_markup_ = true;
  return v;
}

Value Value::markup(std::string s) {
  Value v(std::move(s));
  v.lazy_or_markup_ = true;  // the flag means "Markup" on strings
  return v;
}

Value Value::dict(ValueDict d) {
  Value v;
  measure([&](auto&& f) { for (const auto& [k, val] : d.items) f(k), f(val); }, v.depth_, v.holds_namespace_);
  v.kind_ = Kind::kDict;
  v.dict_ = std::make_shared<ValueDict>(std::move(d));
  return v;
}
Value Value::namespace_object(ValueDict attributes) {
  Value v = dict(std::move(attributes));
  v.kind_ = Kind::kNamespace;
  v.holds_namespace_ = true;
  return v;
}
Value Value::function(std::string name, NativeFunction fn) {
  Value v;
  v.kind_ = Kind::kFunction;
  v.s_ = std::move(name);
  v.fn_ = std::make_shared<NativeFunction>(std::move(fn));
  return v;
}
Value Value::undefined(std::string name) {
  Value v;
  v.s_ = std::move(name);
  return v;
}

namespace {
template <typename Json>
Value value_from_json(const Json& j, int depth = 0);
}  // namespace

Value Value::from_json(const nlohmann::json& j) { return value_from_json(j); }
Value Value::from_json(const nlohmann::ordered_json& j) { return value_from_json(j); }

namespace {
template <typename Json>
Value value_from_json(const Json& j, int depth) {
  // Checked before recursing: a hostile document must not exhaust the stack.
  if (depth >= kMaxValueDepth) throw TemplateError("value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: return Value(static_cast<int64_t>(j.template get<uint64_t>()));
    case nlohmann::json::value_t::number_float: return Value(j.template get<double>());
    case nlohmann::json::value_t::string: return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      ValueList items;
      for (const auto& e : j) items.push_back(value_from_json(e, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      ValueDict d;
      for (auto it = j.begin(); it != j.end(); ++it) d.items.emplace_back(Value(it.key()), value_from_json(it.value(), depth + 1));
      return Value::dict(std::move(d));
    }
    default: return Value();
  }
}
}  // namespace

// ---- access ---------------------------------------------------------------------------------------------------

bool Value::truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool: return b_;
    case Kind::kInt: return i_ != 0;
    case Kind::kFloat: return f_ != 0.0;
    case Kind::kString: return !s_.empty();
    case Kind::kList: return lazy_or_markup_ || !list_->empty();
    case Kind::kDict: return !dict_->items.empty();
    default: return true;
  }
}

int64_t Value::as_int() const {
  if (kind_ == Kind::kInt) return i_;
  if (kind_ == Kind::kBool) return b_ ? 1 : 0;
  throw TemplateError("expected an integer, got " + type_name());
}
double Value::as_double() const {
  if (kind_ == Kind::kFloat) return f_;
  return static_cast<double>(as_int());
}
const std::string& Value::str_ref() const {
  if (kind_ != Kind::kString) throw TemplateError("expected a string, got " + type_name());
  return s_;
}
const ValueList& Value::list_ref() const {
  if (kind_ != Kind::kList) throw TemplateError("expected a list, got " + type_name());
  return *list_;
}
ValueList& Value::list_mut() {
  if (kind_ != Kind::kList) throw TemplateError("expected a list, got " + type_name());
  return *list_;
}
const ValueDict& Value::dict_ref() const {
  if (!is_dict()) throw TemplateError("expected a dict, got " + type_name());
  return *dict_;
}
ValueDict& Value::dict_mut() {
  if (!is_dict()) throw TemplateError("expected a dict, got " + type_name());
  return *dict_;
}
Value Value::call(const CallArgs& args) const {
  if (kind_ == Kind::kUndefined) throw TemplateError("'" + s_ + "' is undefined");
  if (kind_ != Kind::kFunction) throw TemplateError("'" + type_name() + "' object is not callable");
  return (*fn_)(args);
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::kUndefined: return "Undefined";
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kFunction: return "function";
    case Kind::kNamespace: return "Namespace";
  }
  return "?";
}

// ---- printing -------------------------------------------------------------------------------------------------

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  int precision = 1;
  for (; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*e", precision - 1, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  // buf = d.ddde[+-]XX with `precision` significant digits.
  std::string s(buf);
  const size_t e = s.find('e');
  std::string mantissa = s.substr(0, e);
  const int exponent = std::atoi(s.c_str() + e + 1);
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  std::string out;
  if (exponent < -4 || exponent >= 16) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp_buf;
  } else if (exponent < 0) {
    out = "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  } else {
    const size_t int_digits = static_cast<size_t>(exponent) + 1;
    if (digits.size() <= int_digits) {
      out = digits + std::string(int_digits - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, int_digits) + "." + digits.substr(int_digits);
    }
  }
  return negative ? "-" + out : out;
}

namespace {

bool printable_unicode(uint32_t cp) {
  // Python's str.isprintable(): not Cc/Cf/Cs/Co/Cn/Zl/Zp/Zs except the ASCII space. Approximation without tables:
  // control characters, separators other than space, and a few format characters are not printable.
  if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) return false;
  if (cp == 0xAD || cp == 0x2028 || cp == 0x2029 || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
      (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF)
    return false;
  if (cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000)
    return false;
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  return true;
}

uint32_t decode_at(const std::string& s, size_t i, size_t* len) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = b(i);
  *len = 1;
  if (c < 0x80) return c;
  size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
  if (n == 1 || i + n > s.size()) return 0xFFFD;
  uint32_t cp = c & (0xFF >> (n + 1));
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (b(i + k) & 0x3F);
  *len = n;
  return cp;
}

std::string repr_string(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const uint32_t cp = decode_at(s, i, &len);
    char buf[16];
    if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (!printable_unicode(cp)) {
      if (cp < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", cp);
      else if (cp < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      else std::snprintf(buf, sizeof buf, "\\U%08x", cp);
      out += buf;
    } else {
      out.append(s, i, len);
    }
    i += len;
  }
  return out + quote;
}

void json_string(const std::string& s, std::string& out) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void json_dump(const Value& v, int indent, int depth, const std::string& item_sep, const std::string& key_sep,
               bool sort_keys, std::string& out) {
  const auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  switch (v.kind()) {
    case Value::Kind::kNone:
    case Value::Kind::kUndefined: out += "null"; break;
    case Value::Kind::kBool: out += v.truthy() ? "true" : "false"; break;
    case Value::Kind::kInt: out += std::to_string(v.as_int()); break;
    case Value::Kind::kFloat: {
      const double f = v.as_double();
      out += std::isnan(f) ? "NaN" : std::isinf(f) ? (f > 0 ? "Infinity" : "-Infinity") : python_float_repr(f);
      break;
    }
    case Value::Kind::kString: json_string(v.str_ref(), out); break;
    case Value::Kind::kList: {
      if (v.is_generator()) throw TemplateError("Object of type generator is not JSON serializable");
      const ValueList& items = v.list_ref();
      if (items.empty()) {
        out += "[]";
        break;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        json_dump(items[i], indent, depth + 1, item_sep, key_sep, sort_keys, out);
      }
      newline(depth);
      out += ']';
      break;
    }
    case Value::Kind::kDict:
    case Value::Kind::kNamespace: {
      std::vector<const std::pair<Value, Value>*> items;
      for (const auto& kv : v.dict_ref().items) items.push_back(&kv);
      if (sort_keys)
        std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first.compare(b->first) < 0; });
      if (items.empty()) {
        out += "{}";
        break;
      }
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        const Value& key = items[i]->first;
        json_string(key.is_string() ? key.str_ref() : key.kind() == Value::Kind::kBool ? (key.truthy() ? "true" : "false")
                                                    : key.is_none() ? "null" : key.str(),
                    out);
        out += key_sep;
        json_dump(items[i]->second, indent, depth + 1, item_sep, key_sep, sort_keys, out);
      }
      newline(depth);
      out += '}';
      break;
    }
    default: throw TemplateError("Object of type " + v.type_name() + " is not JSON serializable");
  }
}

}  // namespace

std::string python_json_dumps(const Value& v, int indent, const std::string& item_sep, const std::string& key_sep,
                              bool sort_keys) {
  std::string out;
  json_dump(v, indent, 0, item_sep, key_sep, sort_keys, out);
  return out;
}

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t len;
    decode_at(s, i, &len);
    out.push_back(s.substr(i, len));
    i += len;
  }
  return out;
}

std::string Value::str() const {
  switch (kind_) {
    case Kind::kUndefined: return "";
    case Kind::kNone: return "None";
    case Kind::kBool: return b_ ? "True" : "False";
    case Kind::kInt: return std::to_string(i_);
    case Kind::kFloat: return python_float_repr(f_);
    case Kind::kString: return s_;
    default: return repr();
  }
}

std::string Value::repr() const {
  switch (kind_) {
    case Kind::kString: return repr_string(s_);
    case Kind::kList: {
      if (lazy_or_markup_) return "<generator object>";
      std::string out = "[";
      for (size_t i = 0; i < list_->size(); ++i) out += (i ? ", " : "") + (*list_)[i].repr();
      return out + "]";
    }
    case Kind::kDict: {
      std::string out = "{";
      for (size_t i = 0; i < dict_->items.size(); ++i)
        out += (i ? ", " : "") + dict_->items[i].first.repr() + ": " + dict_->items[i].second.repr();
      return out + "}";
    }
    case Kind::kNamespace: {
      std::string out = "<Namespace {";
      for (size_t i = 0; i < dict_->items.size(); ++i)
        out += (i ? ", " : "") + dict_->items[i].first.repr() + ": " + dict_->items[i].second.repr();
      return out + "}>";
    }
    case Kind::kFunction: return "<function " + s_ + ">";
    default: return str();
  }
}

nlohmann::json Value::to_json() const {
  return nlohmann::json::parse(python_json_dumps(*this, -1, ",", ":", false));
}

bool Value::equals(const Value& o) const {
  if (is_number() && o.is_number()) {
    if (kind_ == Kind::kFloat || o.kind_ == Kind::kFloat) return as_double() == o.as_double();
    return as_int() == o.as_int();
  }
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone: return true;
    case Kind::kString: return s_ == o.s_;
    case Kind::kList: {
      if (list_->size() != o.list_->size()) return false;
      for (size_t i = 0; i < list_->size(); ++i)
        if (!(*list_)[i].equals((*o.list_)[i])) return false;
      return true;
    }
    case Kind::kDict: {
      if (dict_->items.size() != o.dict_->items.size()) return false;
      for (const auto& [k, v] : dict_->items) {
        const Value* other = o.dict_->find(k);
        if (!other || !v.equals(*other)) return false;
      }
      return true;
    }
    default: return dict_ == o.dict_ && fn_ == o.fn_;
  }
}

int Value::compare(const Value& o) const {
  if (is_number() && o.is_number()) {
    const double a = as_double(), b = o.as_double();
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (kind_ == Kind::kString && o.kind_ == Kind::kString) return s_ < o.s_ ? -1 : s_ > o.s_ ? 1 : 0;
  if (kind_ == Kind::kList && o.kind_ == Kind::kList) {
    for (size_t i = 0; i < list_->size() && i < o.list_->size(); ++i) {
      if (int c = (*list_)[i].compare((*o.list_)[i])) return c;
    }
    return list_->size() < o.list_->size() ? -1 : list_->size() > o.list_->size() ? 1 : 0;
  }
  throw TemplateError("'<' not supported between instances of '" + type_name() + "' and '" + o.type_name() + "'");
}

}  // namespace fm::jinja
