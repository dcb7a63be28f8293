#include "api/json_input.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace fm {

int json_nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

ojson parse_json_body(std::string_view body, int max_depth) {
  if (json_nesting_depth(body, max_depth) > max_depth)
    throw bad_request("the request body nests arrays or objects deeper than " + std::to_string(max_depth) + " levels",
                      "json_too_deep");
  ojson parsed;
  try {
    parsed = ojson::parse(body.begin(), body.end());
  } catch (const ojson::parse_error& e) {
    throw bad_request("the request body is not valid JSON (at byte " + std::to_string(e.byte) + ")", "invalid_json");
  } catch (const ojson::exception&) {  // e.g. a number too large for a double
    throw bad_request("the request body is not valid JSON (a number is out of range)", "invalid_json");
  }
  if (!parsed.is_object()) throw bad_request("the request body must be a JSON object", "invalid_type");
  return parsed;
}

std::string quote_value(const std::string& s) {
  size_t cut = std::min<size_t>(s.size(), 64);
  while (cut > 0 && cut < s.size() && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // whole characters
  std::string out = "'";  // appended, not `"'" + …`: GCC 12 warns (-Wrestrict) on the latter falsely
  out.append(s, 0, cut);
  if (cut < s.size()) out += "…";
  out += "'";
  return out;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

namespace {

const ojson& null_json() {
  static const ojson null_value;
  return null_value;
}

std::string snake_case(std::string_view camel) {
  std::string out;
  for (char c : camel) {
    if (c >= 'A' && c <= 'Z') {
      out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

const char* type_name(const ojson& v) {
  switch (v.type()) {
    case ojson::value_t::null: return "null";
    case ojson::value_t::object: return "an object";
    case ojson::value_t::array: return "an array";
    case ojson::value_t::string: return "a string";
    case ojson::value_t::boolean: return "a boolean";
    default: return "a number";
  }
}

}  // namespace

JsonField::JsonField(const ojson& root, bool snake_aliases) : value_(&root), path_(), snake_(snake_aliases) {}

const ojson& JsonField::raw() const { return value_ ? *value_ : null_json(); }

void JsonField::fail(const std::string& what) const {
  throw bad_request((path_.empty() ? std::string("the request body") : path_) + " " + what);
}

JsonField JsonField::operator[](std::string_view key) const {
  const std::string child = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  if (!present()) return JsonField(nullptr, child, snake_);
  if (!value_->is_object()) fail(std::string("must be an object, not ") + type_name(*value_));
  auto it = value_->find(key);
  if (it == value_->end() && snake_) it = value_->find(snake_case(key));
  return JsonField(it == value_->end() ? nullptr : &*it, child, snake_);
}

JsonField JsonField::operator[](size_t index) const {
  const std::string child = path_ + "[" + std::to_string(index) + "]";
  if (!present() || !value_->is_array() || index >= value_->size()) return JsonField(nullptr, child, snake_);
  return JsonField(&(*value_)[index], child, snake_);
}

size_t JsonField::array(size_t max_items) const {
  if (!present()) return 0;
  if (!value_->is_array()) fail(std::string("must be an array, not ") + type_name(*value_));
  if (value_->size() > max_items) fail("may hold at most " + std::to_string(max_items) + " items");
  return value_->size();
}

void JsonField::require_object() const {
  require_present();
  if (!value_->is_object()) fail(std::string("must be an object, not ") + type_name(*value_));
}

void JsonField::require_present() const {
  if (!present()) fail("is required");
}

std::string JsonField::string() const {
  require_present();
  if (!value_->is_string()) fail(std::string("must be a string, not ") + type_name(*value_));
  return value_->get<std::string>();
}

std::string JsonField::string_or(const std::string& fallback) const { return present() ? string() : fallback; }

bool JsonField::boolean_or(bool fallback) const {
  if (!present()) return fallback;
  if (!value_->is_boolean()) fail(std::string("must be a boolean, not ") + type_name(*value_));
  return value_->get<bool>();
}

double JsonField::number_or(double fallback, double lo, double hi) const {
  if (!present()) return fallback;
  if (!value_->is_number()) fail(std::string("must be a number, not ") + type_name(*value_));
  const double d = value_->get<double>();
  if (!(d >= lo && d <= hi)) fail("must be between " + format_number(lo) + " and " + format_number(hi));
  return d;
}

int64_t JsonField::integer_or(int64_t fallback, int64_t lo, int64_t hi) const {
  if (!present()) return fallback;
  if (!value_->is_number()) fail(std::string("must be an integer, not ") + type_name(*value_));
  int64_t v = 0;
  if (value_->is_number_integer() && !value_->is_number_unsigned()) {
    v = value_->get<int64_t>();
  } else if (value_->is_number_unsigned()) {
    const uint64_t u = value_->get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) fail("must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    v = static_cast<int64_t>(u);
  } else {
    const double d = value_->get<double>();
    if (!(std::floor(d) == d)) fail("must be an integer");
    if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)))
      fail("must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    v = static_cast<int64_t>(d);
  }
  if (v < lo || v > hi) fail("must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return v;
}

int64_t JsonField::int64_or(int64_t fallback, int64_t lo, int64_t hi) const {
  if (!present() || !value_->is_string()) return integer_or(fallback, lo, hi);
  const std::string& s = value_->get_ref<const std::string&>();
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size())
    fail("must be an integer (a number or a decimal string)");
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    fail("must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return v;
}

size_t JsonField::enum_or(size_t fallback, std::initializer_list<const char*> names) const {
  if (!present()) return fallback;
  std::string allowed;
  for (const char* n : names) allowed += (allowed.empty() ? "" : ", ") + std::string(n);
  if (value_->is_number_integer()) {
    const int64_t i = integer_or(0, 0, static_cast<int64_t>(names.size()) - 1);
    return static_cast<size_t>(i);
  }
  if (!value_->is_string()) fail("must be one of " + allowed);
  const std::string& s = value_->get_ref<const std::string&>();
  size_t i = 0;
  for (const char* n : names) {
    if (s == n) return i;
    ++i;
  }
  fail("must be one of " + allowed);
}

}  // namespace fm
