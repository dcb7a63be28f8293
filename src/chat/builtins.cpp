#include "chat/builtins.h"

#include "tokenizer/unicode.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <cmath>
#include <ctime>

namespace fm::jinja {
namespace {

[[noreturn]] void fail(const std::string& what, int line) { throw TemplateError(what, line); }

// By value: the fallback is often a temporary.
Value arg(const CallArgs& a, size_t index, const char* name, const Value& fallback) {
  if (index < a.positional.size()) return a.positional[index];
  if (const Value* v = a.kw(name)) return *v;
  return fallback;
}

// ---- Unicode-aware helpers on UTF-8 strings ------------------------------------------------------------------

uint32_t cp_at(const std::string& s, size_t i, size_t* len) { return utf8_decode(s, i, len); }
void append_cp(std::string& out, uint32_t cp) { utf8_append(out, cp); }

bool py_space(uint32_t cp) { return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F) || u_isUWhiteSpace(static_cast<UChar32>(cp)); }

template <typename F>
std::string map_cps(const std::string& s, F f) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const uint32_t cp = cp_at(s, i, &len);
    append_cp(out, f(cp, i));
    i += len;
  }
  return out;
}

std::string py_upper(const std::string& s) { return map_cps(s, [](uint32_t c, size_t) { return static_cast<uint32_t>(u_toupper(static_cast<UChar32>(c))); }); }
std::string py_lower(const std::string& s) { return map_cps(s, [](uint32_t c, size_t) { return static_cast<uint32_t>(u_tolower(static_cast<UChar32>(c))); }); }

std::string py_title(const std::string& s) {
  bool prev_cased = false;
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const uint32_t cp = cp_at(s, i, &len);
    const bool cased = u_isUAlphabetic(static_cast<UChar32>(cp)) && (u_isULowercase(static_cast<UChar32>(cp)) || u_isUUppercase(static_cast<UChar32>(cp)) || u_istitle(static_cast<UChar32>(cp)));
    append_cp(out, static_cast<uint32_t>(prev_cased ? u_tolower(static_cast<UChar32>(cp)) : u_totitle(static_cast<UChar32>(cp))));
    prev_cased = cased;
    i += len;
  }
  return out;
}

std::string py_capitalize(const std::string& s) {
  return map_cps(s, [](uint32_t c, size_t i) {
    return static_cast<uint32_t>(i == 0 ? u_totitle(static_cast<UChar32>(c)) : u_tolower(static_cast<UChar32>(c)));
  });
}

// str.strip family; chars = None means white space.
std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::vector<uint32_t> set;
  const bool whitespace = chars.is_none() || chars.is_undefined();
  if (!whitespace) {
    const std::string& c = chars.str_ref();
    for (size_t i = 0; i < c.size();) {
      size_t len;
      set.push_back(cp_at(c, i, &len));
      i += len;
    }
  }
  auto strip_cp = [&](uint32_t cp) { return whitespace ? py_space(cp) : std::find(set.begin(), set.end(), cp) != set.end(); };
  std::vector<std::pair<size_t, size_t>> cps;  // (offset, len)
  for (size_t i = 0; i < s.size();) {
    size_t len;
    cp_at(s, i, &len);
    cps.emplace_back(i, len);
    i += len;
  }
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_cp(cp_at(s, cps[b].first, &cps[b].second))) ++b;
  if (right)
    while (e > b && strip_cp(cp_at(s, cps[e - 1].first, &cps[e - 1].second))) --e;
  if (b >= e) return "";
  return s.substr(cps[b].first, cps[e - 1].first + cps[e - 1].second - cps[b].first);
}

Value py_split(const std::string& s, const Value& sep, int64_t maxsplit) {
  ValueList parts;
  if (sep.is_none() || sep.is_undefined()) {
    size_t i = 0;
    int64_t splits = 0;
    while (i < s.size()) {
      size_t len;
      while (i < s.size() && py_space(cp_at(s, i, &len))) i += len;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && splits >= maxsplit) {
        std::string rest = s.substr(i);
        parts.push_back(Value(py_strip(rest, Value::none(), false, true)));
        break;
      }
      size_t start = i;
      while (i < s.size() && !py_space(cp_at(s, i, &len))) i += len;
      parts.push_back(Value(s.substr(start, i - start)));
      ++splits;
    }
    return Value::list(std::move(parts));
  }
  const std::string& d = sep.str_ref();
  if (d.empty()) throw TemplateError("ValueError: empty separator");
  size_t start = 0;
  int64_t splits = 0;
  for (size_t hit; (maxsplit < 0 || splits < maxsplit) && (hit = s.find(d, start)) != std::string::npos; ++splits) {
    parts.push_back(Value(s.substr(start, hit - start)));
    start = hit + d.size();
  }
  parts.push_back(Value(s.substr(start)));
  return Value::list(std::move(parts));
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& with, int64_t count) {
  if (old.empty()) {
    std::string out = with;
    for (const auto& ch : utf8_chars(s)) out += ch + with;
    return out;
  }
  std::string out;
  size_t start = 0;
  int64_t done = 0;
  for (size_t hit; (count < 0 || done < count) && (hit = s.find(old, start)) != std::string::npos; ++done) {
    out.append(s, start, hit - start);
    out += with;
    start = hit + old.size();
  }
  out.append(s, start, std::string::npos);
  return out;
}

bool affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const std::string& a) {
    return a.size() <= s.size() && (prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0);
  };
  if (affix.is_list()) {
    for (const Value& a : affix.list_ref())
      if (one(a.str_ref())) return true;
    return false;
  }
  return one(affix.str_ref());
}

ValueList iterate(const Value& v, int line) {
  switch (v.kind()) {
    case Value::Kind::kList: return v.list_ref();
    case Value::Kind::kDict: {
      ValueList keys;
      for (const auto& kv : v.dict_ref().items) keys.push_back(kv.first);
      return keys;
    }
    case Value::Kind::kString: {
      ValueList chars;
      for (auto& c : utf8_chars(v.str_ref())) chars.push_back(Value(c));
      return chars;
    }
    case Value::Kind::kUndefined: return {};
    default: fail("'" + v.type_name() + "' object is not iterable", line);
  }
}

Value length_of(const Value& v, int line) {
  switch (v.kind()) {
    case Value::Kind::kString: return Value(static_cast<int64_t>(utf8_length(v.str_ref())));
    case Value::Kind::kList:
      if (v.is_generator()) fail("object of type 'generator' has no len()", line);
      return Value(static_cast<int64_t>(v.list_ref().size()));
    case Value::Kind::kDict:
    case Value::Kind::kNamespace: return Value(static_cast<int64_t>(v.dict_ref().items.size()));
    case Value::Kind::kUndefined: return Value(int64_t{0});
    default: fail("object of type '" + v.type_name() + "' has no len()", line);
  }
}

// A padding width from a template: negative pads nothing (as Python's ' ' * n), a huge one is an error rather
// than an allocation of that size.
size_t pad_width(int64_t width, int line) {
  if (width <= 0) return 0;
  if (width > (int64_t{1} << 20)) throw TemplateError("width too large", line);
  return static_cast<size_t>(width);
}

// Python's int(x) of a float, for the values an int64 holds.
int64_t float_to_int(double d, int line) {
  if (std::isnan(d)) throw TemplateError("cannot convert float NaN to integer", line);
  if (!(d > -9.3e18 && d < 9.2e18)) throw TemplateError("float too large to convert to an integer", line);
  return static_cast<int64_t>(d);
}

// Attribute path "a.b" for selectattr / map / sort.
Value attribute_path(const Value& v, const std::string& path, int line) {
  Value cur = v;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool numeric = !part.empty() && part.size() <= 18 && std::all_of(part.begin(), part.end(), ::isdigit);
    cur = numeric ? get_item(cur, Value(static_cast<int64_t>(std::stoll(part))), line) : get_item(cur, Value(part), line);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

CallArgs rest_args(const CallArgs& a, size_t skip) {
  CallArgs out;
  for (size_t i = skip; i < a.positional.size(); ++i) out.positional.push_back(a.positional[i]);
  out.keyword = a.keyword;
  return out;
}

Value bound(const std::string& name, std::function<Value(const CallArgs&)> fn) { return Value::function(name, std::move(fn)); }

}  // namespace

// ---- attribute / item ----------------------------------------------------------------------------------------

Value get_item(const Value& obj, const Value& key, int line) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined: fail("'" + obj.undefined_name() + "' is undefined", line);
    case Value::Kind::kDict: {
      if (const Value* v = obj.dict_ref().find(key)) return *v;
      if (key.is_string()) return get_attribute(obj, key.str_ref(), line);
      return Value::undefined(key.repr());
    }
    case Value::Kind::kNamespace: {
      if (const Value* v = obj.dict_ref().find(key)) return *v;
      return Value::undefined(key.str());
    }
    case Value::Kind::kList: {
      if (!key.is_number() || key.kind() == Value::Kind::kFloat) {
        if (key.is_string()) return get_attribute(obj, key.str_ref(), line);
        return Value::undefined(key.repr());
      }
      int64_t i = key.as_int();
      const int64_t n = static_cast<int64_t>(obj.list_ref().size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined("list index " + key.str());
      return obj.list_ref()[static_cast<size_t>(i)];
    }
    case Value::Kind::kString: {
      if (key.is_string()) return get_attribute(obj, key.str_ref(), line);
      if (!key.is_number()) return Value::undefined(key.repr());
      const auto chars = utf8_chars(obj.str_ref());
      int64_t i = key.as_int();
      const int64_t n = static_cast<int64_t>(chars.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined("string index " + key.str());
      return Value(chars[static_cast<size_t>(i)]);
    }
    default: return Value::undefined(key.str());
  }
}

Value get_attribute(const Value& obj, const std::string& name, int line) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined: fail("'" + obj.undefined_name() + "' is undefined", line);
    case Value::Kind::kNamespace: {
      if (const Value* v = obj.dict_ref().find(Value(name))) return *v;
      return Value::undefined(name);
    }
    case Value::Kind::kDict: {
      if (name == "get")
        return bound("get", [obj](const CallArgs& a) {
          const Value* v = obj.dict_ref().find(arg(a, 0, "key", Value()));
          return v ? *v : arg(a, 1, "default", Value::none());
        });
      if (name == "items")
        return bound("items", [obj](const CallArgs&) {
          ValueList out;
          for (const auto& [k, v] : obj.dict_ref().items) out.push_back(Value::list({k, v}));
          return Value::list(std::move(out));
        });
      if (name == "keys")
        return bound("keys", [obj](const CallArgs&) {
          ValueList out;
          for (const auto& kv : obj.dict_ref().items) out.push_back(kv.first);
          return Value::list(std::move(out));
        });
      if (name == "values")
        return bound("values", [obj](const CallArgs&) {
          ValueList out;
          for (const auto& kv : obj.dict_ref().items) out.push_back(kv.second);
          return Value::list(std::move(out));
        });
      if (name == "pop" || name == "update" || name == "setdefault" || name == "clear" || name == "popitem")
        return bound(name, [name, line](const CallArgs&) -> Value {
          fail("SecurityError: access to attribute '" + name + "' of 'dict' object is unsafe.", line);
        });
      if (const Value* v = obj.dict_ref().find(Value(name))) return *v;
      return Value::undefined(name);
    }
    case Value::Kind::kList: {
      if (name == "index" || name == "count")
        return bound(name, [obj, name](const CallArgs& a) {
          const Value needle = arg(a, 0, "value", Value());
          int64_t count = 0;
          const ValueList& items = obj.list_ref();
          for (size_t i = 0; i < items.size(); ++i) {
            if (!items[i].equals(needle)) continue;
            if (name == "index") return Value(static_cast<int64_t>(i));
            ++count;
          }
          if (name == "index") throw TemplateError("ValueError: value is not in list");
          return Value(count);
        });
      if (name == "append" || name == "extend" || name == "pop" || name == "insert" || name == "remove" ||
          name == "sort" || name == "reverse" || name == "clear")
        return bound(name, [name, line](const CallArgs&) -> Value {
          fail("SecurityError: access to attribute '" + name + "' of 'list' object is unsafe.", line);
        });
      return Value::undefined(name);
    }
    case Value::Kind::kString: {
      const std::string s = obj.str_ref();
      if (name == "strip" || name == "lstrip" || name == "rstrip")
        return bound(name, [s, name](const CallArgs& a) {
          return Value(py_strip(s, arg(a, 0, "chars", Value::none()), name != "rstrip", name != "lstrip"));
        });
      if (name == "split")
        return bound(name, [s](const CallArgs& a) {
          const Value m = arg(a, 1, "maxsplit", Value(int64_t{-1}));
          return py_split(s, arg(a, 0, "sep", Value::none()), m.as_int());
        });
      if (name == "startswith" || name == "endswith")
        return bound(name, [s, name](const CallArgs& a) { return Value(affix_match(s, arg(a, 0, "prefix", Value("")), name == "startswith")); });
      if (name == "upper") return bound(name, [s](const CallArgs&) { return Value(py_upper(s)); });
      if (name == "lower") return bound(name, [s](const CallArgs&) { return Value(py_lower(s)); });
      if (name == "title") return bound(name, [s](const CallArgs&) { return Value(py_title(s)); });
      if (name == "capitalize") return bound(name, [s](const CallArgs&) { return Value(py_capitalize(s)); });
      if (name == "replace")
        return bound(name, [s](const CallArgs& a) {
          const Value count = arg(a, 2, "count", Value(int64_t{-1}));
          return Value(py_replace(s, arg(a, 0, "old", Value("")).str_ref(), arg(a, 1, "new", Value("")).str_ref(), count.as_int()));
        });
      if (name == "find" || name == "count")
        return bound(name, [s, name](const CallArgs& a) {
          const std::string& needle = arg(a, 0, "sub", Value("")).str_ref();
          if (name == "find") {
            const size_t hit = s.find(needle);
            return Value(hit == std::string::npos ? int64_t{-1} : static_cast<int64_t>(utf8_length(s.substr(0, hit))));
          }
          if (needle.empty()) return Value(static_cast<int64_t>(utf8_length(s) + 1));
          int64_t n = 0;
          for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) ++n;
          return Value(n);
        });
      if (name == "join")
        return bound(name, [s, line](const CallArgs& a) {
          std::string out;
          bool first = true;
          for (const Value& v : iterate(arg(a, 0, "iterable", Value::list()), line)) {
            if (!first) out += s;
            out += v.str_ref();
            first = false;
          }
          return Value(out);
        });
      if (name == "splitlines")
        return bound(name, [s](const CallArgs&) {
          ValueList lines;
          size_t start = 0;
          for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '\n' || s[i] == '\r') {
              lines.push_back(Value(s.substr(start, i - start)));
              if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
              start = i + 1;
            }
          }
          if (start < s.size()) lines.push_back(Value(s.substr(start)));
          return Value::list(std::move(lines));
        });
      if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "isupper" || name == "islower")
        return bound(name, [s, name](const CallArgs&) {
          if (s.empty()) return Value(false);
          bool all = true, any_cased = false;
          for (size_t i = 0; i < s.size();) {
            size_t len;
            const UChar32 c = static_cast<UChar32>(cp_at(s, i, &len));
            if (name == "isdigit") all &= u_isdigit(c) != 0;
            else if (name == "isalpha") all &= u_isUAlphabetic(c) != 0;
            else if (name == "isalnum") all &= u_isUAlphabetic(c) || u_isdigit(c);
            else if (name == "isspace") all &= py_space(static_cast<uint32_t>(c));
            else if (name == "isupper") { all &= !u_isULowercase(c); any_cased |= u_isUUppercase(c) != 0; }
            else { all &= !u_isUUppercase(c); any_cased |= u_isULowercase(c) != 0; }
            i += len;
          }
          return Value((name == "isupper" || name == "islower") ? all && any_cased : all);
        });
      return Value::undefined(name);
    }
    default: return Value::undefined(name);
  }
}

// ---- tests -----------------------------------------------------------------------------------------------------

bool call_test(const std::string& name, const Value& v, const CallArgs& a, int line) {
  const Value other = arg(a, 0, "other", Value());
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind() == Value::Kind::kBool;
  if (name == "true") return v.kind() == Value::Kind::kBool && v.truthy();
  if (name == "false") return v.kind() == Value::Kind::kBool && !v.truthy();
  if (name == "integer") return v.kind() == Value::Kind::kInt;
  if (name == "float") return v.kind() == Value::Kind::kFloat;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.kind() == Value::Kind::kDict;
  if (name == "iterable") return v.is_string() || v.is_list() || v.kind() == Value::Kind::kDict || v.is_undefined();
  if (name == "sequence") return v.is_string() || v.is_list() || v.kind() == Value::Kind::kDict || v.is_undefined();
  if (name == "callable") return v.is_callable();
  if (name == "odd") return v.as_int() % 2 != 0;
  if (name == "even") return v.as_int() % 2 == 0;
  if (name == "divisibleby") return other.as_int() != 0 && v.as_int() % other.as_int() == 0;
  if (name == "lower") return v.is_string() && py_lower(v.str_ref()) == v.str_ref();
  if (name == "upper") return v.is_string() && py_upper(v.str_ref()) == v.str_ref();
  if (name == "eq" || name == "equalto" || name == "==") return v.equals(other);
  if (name == "ne" || name == "!=") return !v.equals(other);
  if (name == "lt" || name == "lessthan" || name == "<") return v.compare(other) < 0;
  if (name == "le" || name == "<=") return v.compare(other) <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return v.compare(other) > 0;
  if (name == "ge" || name == ">=") return v.compare(other) >= 0;
  if (name == "sameas") return v.kind() == other.kind() && (v.is_none() || v.equals(other));
  if (name == "in") {
    const Value seq = arg(a, 0, "seq", Value());
    if (seq.is_string()) return v.is_string() && seq.str_ref().find(v.str_ref()) != std::string::npos;
    for (const Value& item : iterate(seq, line))
      if (item.equals(v)) return true;
    return false;
  }
  fail("no test named '" + name + "'", line);
}

// ---- filters ---------------------------------------------------------------------------------------------------

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Value call_filter(const std::string& name, const Value& v, const CallArgs& a, FilterApplier& self, int line) {
  if (name == "safe") return v.is_string() ? Value::markup(v.str_ref()) : (v.is_undefined() ? Value::markup("") : Value::markup(v.str()));
  if (name == "default" || name == "d") {
    const bool boolean = arg(a, 1, "boolean", Value(false)).truthy();
    if (v.is_undefined() || (boolean && !v.truthy())) return arg(a, 0, "default_value", Value(""));
    return v;
  }
  if (name == "length" || name == "count") return length_of(v, line);
  if (name == "string") return Value(v.str());
  if (name == "lower") return Value(py_lower(v.str()));
  if (name == "upper") return Value(py_upper(v.str()));
  if (name == "title") return Value(py_title(v.str()));
  if (name == "capitalize") return Value(py_capitalize(v.str()));
  if (name == "trim") return Value(py_strip(v.str(), arg(a, 0, "chars", Value::none()), true, true));
  if (name == "replace") {
    const Value count = arg(a, 2, "count", Value::none());
    return Value(py_replace(v.str(), arg(a, 0, "old", Value("")).str(), arg(a, 1, "new", Value("")).str(),
                            count.is_none() ? -1 : count.as_int()));
  }
  if (name == "tojson") {
    const Value indent = arg(a, 0, "indent", Value::none());
    const Value separators = arg(a, 2, "separators", Value::none());
    const bool sort_keys = arg(a, 3, "sort_keys", Value(false)).truthy();
    const int ind = indent.is_none() ? -1 : static_cast<int>(std::min<size_t>(pad_width(indent.as_int(), line), 64));
    std::string item_sep = ind >= 0 ? "," : ", ", key_sep = ": ";
    if (separators.is_list() && separators.list_ref().size() == 2) {
      item_sep = separators.list_ref()[0].str_ref();
      key_sep = separators.list_ref()[1].str_ref();
    }
    if (v.is_undefined()) fail("Object of type Undefined is not JSON serializable", line);
    return Value(python_json_dumps(v, ind, item_sep, key_sep, sort_keys));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::list();
    return get_attribute(v, "items", line).call({});
  }
  if (name == "list") return Value::list(iterate(v, line));
  if (name == "first") {
    ValueList items = iterate(v, line);
    return items.empty() ? Value::undefined("first") : items.front();
  }
  if (name == "last") {
    ValueList items = iterate(v, line);
    return items.empty() ? Value::undefined("last") : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) {
      auto chars = utf8_chars(v.str_ref());
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
      return Value(out);
    }
    ValueList items = iterate(v, line);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "join") {
    const Value sep = arg(a, 0, "d", Value(""));
    const Value attribute = arg(a, 1, "attribute", Value::none());
    std::string out;
    bool first = true;
    for (const Value& item : iterate(v, line)) {
      if (!first) out += sep.str();
      out += (attribute.is_none() ? item : attribute_path(item, attribute.str(), line)).str();
      first = false;
    }
    return Value(out);
  }
  if (name == "indent") {
    const Value width = arg(a, 0, "width", Value(int64_t{4}));
    const bool first = arg(a, 1, "first", Value(false)).truthy();
    const bool blank = arg(a, 2, "blank", Value(false)).truthy();
    const std::string pad = width.is_string() ? width.str_ref() : std::string(pad_width(width.as_int(), line), ' ');
    std::string s = v.str() + "\n";
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\n' || s[i] == '\r') {
        lines.push_back(s.substr(start, i - start));
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
        start = i + 1;
      }
    }
    if (start < s.size()) lines.push_back(s.substr(start));
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) out += "\n";
      if (i > 0 && (blank || !lines[i].empty())) out += pad;
      out += lines[i];
    }
    if (first) out = pad + out;
    return Value(out);
  }
  if (name == "map") {
    ValueList out;
    if (!v.truthy()) return Value::generator({});
    const Value* attribute = a.kw("attribute");
    for (const Value& item : iterate(v, line)) {
      if (attribute) {
        Value got = attribute_path(item, attribute->str(), line);
        if (got.is_undefined()) {
          if (const Value* d = a.kw("default")) got = *d;
        }
        out.push_back(got);
      } else {
        if (a.positional.empty()) fail("map() needs a filter name or attribute=", line);
        out.push_back(self.apply_filter(a.positional[0].str_ref(), item, rest_args(a, 1), line));
      }
    }
    return Value::generator(std::move(out));
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    if (!v.truthy()) return Value::generator({});
    const bool by_attr = name == "selectattr" || name == "rejectattr";
    const bool keep_if = name == "select" || name == "selectattr";
    ValueList out;
    for (const Value& item : iterate(v, line)) {
      const Value subject = by_attr ? attribute_path(item, arg(a, 0, "attribute", Value("")).str(), line) : item;
      const size_t test_at = by_attr ? 1 : 0;
      bool pass;
      if (a.positional.size() > test_at) pass = self.apply_test(a.positional[test_at].str_ref(), subject, rest_args(a, test_at + 1), line);
      else pass = subject.truthy();
      if (pass == keep_if) out.push_back(item);
    }
    return Value::generator(std::move(out));
  }
  if (name == "unique") {
    const bool case_sensitive = arg(a, 0, "case_sensitive", Value(false)).truthy();
    const Value attribute = arg(a, 1, "attribute", Value::none());
    ValueList out, seen;
    for (const Value& item : iterate(v, line)) {
      Value key = attribute.is_none() ? item : attribute_path(item, attribute.str(), line);
      if (!case_sensitive && key.is_string()) key = Value(py_lower(key.str_ref()));
      bool dup = false;
      for (const Value& s : seen) dup |= s.equals(key);
      if (dup) continue;
      seen.push_back(key);
      out.push_back(item);
    }
    return Value::generator(std::move(out));
  }
  if (name == "sort") {
    const bool reverse = arg(a, 0, "reverse", Value(false)).truthy();
    const bool case_sensitive = arg(a, 1, "case_sensitive", Value(false)).truthy();
    const Value attribute = arg(a, 2, "attribute", Value::none());
    ValueList items = iterate(v, line);
    auto key = [&](const Value& item) {
      Value k = attribute.is_none() ? item : attribute_path(item, attribute.str(), line);
      return (!case_sensitive && k.is_string()) ? Value(py_lower(k.str_ref())) : k;
    };
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      const int c = key(x).compare(key(y));
      return reverse ? c > 0 : c < 0;
    });
    return Value::list(std::move(items));
  }
  if (name == "dictsort") {
    ValueList items = get_attribute(v, "items", line).call({}).list_ref();
    std::stable_sort(items.begin(), items.end(), [](const Value& x, const Value& y) {
      const Value& kx = x.list_ref()[0];
      const Value& ky = y.list_ref()[0];
      return (kx.is_string() && ky.is_string() ? Value(py_lower(kx.str_ref())).compare(Value(py_lower(ky.str_ref())))
                                               : kx.compare(ky)) < 0;
    });
    return Value::list(std::move(items));
  }
  if (name == "sum") {
    const Value attribute = arg(a, 0, "attribute", Value::none());
    Value total = arg(a, 1, "start", Value(int64_t{0}));
    for (const Value& item : iterate(v, line)) {
      const Value x = attribute.is_none() ? item : attribute_path(item, attribute.str(), line);
      total = (total.kind() == Value::Kind::kFloat || x.kind() == Value::Kind::kFloat) ? Value(total.as_double() + x.as_double())
                                                                                   : Value(total.as_int() + x.as_int());
    }
    return total;
  }
  if (name == "min" || name == "max") {
    ValueList items = iterate(v, line);
    if (items.empty()) return Value::undefined(name);
    Value best = items[0];
    for (const Value& x : items)
      if ((name == "min") ? x.compare(best) < 0 : x.compare(best) > 0) best = x;
    return best;
  }
  if (name == "abs") {
    if (v.kind() == Value::Kind::kFloat) return Value(std::fabs(v.as_double()));
    if (v.as_int() == INT64_MIN) throw TemplateError("integer overflow", line);
    return Value(static_cast<int64_t>(std::llabs(v.as_int())));
  }
  if (name == "int") {
    if (v.kind() == Value::Kind::kFloat) return Value(float_to_int(v.as_double(), line));
    if (v.is_number()) return Value(v.as_int());
    try {
      return Value(static_cast<int64_t>(std::stoll(v.str())));
    } catch (const std::exception&) {
      return arg(a, 0, "default", Value(int64_t{0}));
    }
  }
  if (name == "float") {
    if (v.is_number()) return Value(v.as_double());
    try {
      return Value(std::stod(v.str()));
    } catch (const std::exception&) {
      return arg(a, 0, "default", Value(0.0));
    }
  }
  if (name == "round") {
    const int64_t precision = arg(a, 0, "precision", Value(int64_t{0})).as_int();
    const double scale = std::pow(10.0, static_cast<double>(precision));
    return Value(std::round(v.as_double() * scale) / scale);
  }
  if (name == "wordcount") return Value(static_cast<int64_t>(py_split(v.str(), Value::none(), -1).list_ref().size()));
  if (name == "center") {
    const int64_t width = static_cast<int64_t>(pad_width(arg(a, 0, "width", Value(int64_t{80})).as_int(), line));
    std::string s = v.str();
    const int64_t n = static_cast<int64_t>(utf8_length(s));
    if (width <= n) return Value(s);
    const int64_t total = width - n, left = total / 2 + (total & width & 1);
    return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(total - left), ' '));
  }
  if (name == "escape" || name == "e" || name == "forceescape") {
    if (v.is_markup() && name != "forceescape") return v;
    return Value::markup(html_escape(v.str()));
  }
  fail("no filter named '" + name + "'", line);
}

// ---- globals ---------------------------------------------------------------------------------------------------

ValueDict global_functions() {
  ValueDict g;
  g.set(Value("range"), Value::function("range", [](const CallArgs& a) {
          int64_t start = 0, stop, step = 1;
          if (a.positional.size() == 1) {
            stop = a.positional[0].as_int();
          } else if (a.positional.size() >= 2) {
            start = a.positional[0].as_int();
            stop = a.positional[1].as_int();
            if (a.positional.size() >= 3) step = a.positional[2].as_int();
          } else {
            throw TemplateError("range expected at least 1 argument");
          }
          if (step == 0) throw TemplateError("range() arg 3 must not be zero");
          ValueList out;
          for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            out.push_back(Value(i));
            if (out.size() > 100000) throw TemplateError("range too large");
          }
          return Value::list(std::move(out));
        }));
  g.set(Value("namespace"), Value::function("namespace", [](const CallArgs& a) {
          ValueDict attrs;
          for (const Value& p : a.positional)
            if (p.kind() == Value::Kind::kDict)
              for (const auto& [k, v] : p.dict_ref().items) attrs.set(k, v);
          for (const auto& [k, v] : a.keyword) attrs.set(Value(k), v);
          return Value::namespace_object(std::move(attrs));
        }));
  g.set(Value("dict"), Value::function("dict", [](const CallArgs& a) {
          ValueDict d;
          for (const Value& p : a.positional)
            if (p.kind() == Value::Kind::kDict)
              for (const auto& [k, v] : p.dict_ref().items) d.set(k, v);
          for (const auto& [k, v] : a.keyword) d.set(Value(k), v);
          return Value::dict(std::move(d));
        }));
  g.set(Value("raise_exception"), Value::function("raise_exception", [](const CallArgs& a) -> Value {
          throw TemplateError(a.positional.empty() ? std::string("raise_exception") : a.positional[0].str());
        }));
  g.set(Value("strftime_now"), Value::function("strftime_now", [](const CallArgs& a) {
          const std::time_t now = std::time(nullptr);
          std::tm tm{};
          localtime_r(&now, &tm);
          char buf[256];
          const std::string fmt = a.positional.empty() ? std::string("%Y-%m-%d") : a.positional[0].str();
          const size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
          return Value(std::string(buf, n));
        }));
  return g;
}

}  // namespace fm::jinja
