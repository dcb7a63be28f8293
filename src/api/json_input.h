#pragma once
// Request bodies from outside: bounded before they are walked, and read field by field with the field's path in
// every error ("messages[0].content[0].text must be a string"). Nothing here throws anything but ApiError (400).
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/api_error.h"

namespace fm {

using ojson = nlohmann::ordered_json;

// Parses a request body that must be a JSON object. Nesting deeper than max_depth is refused by a scan of the
// bytes before any tree is built; invalid JSON (including invalid UTF-8 in strings) is refused with its position.
ojson parse_json_body(std::string_view body, int max_depth);
// The deepest nesting of arrays/objects in `text` (strings skipped); stops counting past `limit`.
int json_nesting_depth(std::string_view text, int limit);

// A view of one value in a request, with its path. Missing members are "absent" views; reading an absent or
// null value gives the default, a value of the wrong type or range is a 400 naming the path.
class JsonField {
 public:
  // snake_aliases: members also match their snake_case spelling (the native API accepts proto field names).
  explicit JsonField(const ojson& root, bool snake_aliases = false);

  bool present() const { return value_ != nullptr && !value_->is_null(); }
  const std::string& path() const { return path_; }
  const ojson& raw() const;  // the value (null when absent)

  JsonField operator[](std::string_view key) const;  // a member; this must be an object when present
  JsonField operator[](size_t index) const;          // an element of an array checked with array()

  // Checks the value is an array of at most max_items (absent: size 0); returns its size.
  size_t array(size_t max_items) const;
  void require_object() const;
  void require_present() const;  // "<path> is required"

  std::string string() const;  // required
  std::string string_or(const std::string& fallback) const;
  bool boolean_or(bool fallback) const;
  double number_or(double fallback, double lo, double hi) const;
  int64_t integer_or(int64_t fallback, int64_t lo, int64_t hi) const;
  // proto3 JSON int64: a number or a decimal string.
  int64_t int64_or(int64_t fallback, int64_t lo, int64_t hi) const;
  // An enum by name (or by its number, as proto3 JSON allows): returns the index in `names`.
  size_t enum_or(size_t fallback, std::initializer_list<const char*> names) const;

  [[noreturn]] void fail(const std::string& what) const;  // throws bad_request("<path> <what>")

 private:
  JsonField(const ojson* value, std::string path, bool snake_aliases) : value_(value), path_(std::move(path)), snake_(snake_aliases) {}
  const ojson* value_;
  std::string path_;
  bool snake_;
};

// A client's value quoted in an error message, cut short: 'value'.
std::string quote_value(const std::string& s);

// "1", "0.5", "1e+30": a number as a person writes it, for error messages.
std::string format_number(double v);

}  // namespace fm
