#pragma once
// jinja2's filters, tests, global functions and the Python methods of str / dict / list that chat templates call.
#include <string>

#include "chat/value.h"

namespace fm::jinja {

class FilterApplier {  // lets filters such as map('lower') and select('odd') call other filters and tests
 public:
  virtual ~FilterApplier() = default;
  virtual Value apply_filter(const std::string& name, const Value& input, const CallArgs& args, int line) = 0;
  virtual bool apply_test(const std::string& name, const Value& input, const CallArgs& args, int line) = 0;
};

Value call_filter(const std::string& name, const Value& input, const CallArgs& args, FilterApplier& self, int line);
bool call_test(const std::string& name, const Value& input, const CallArgs& args, int line);
// Attribute access with jinja2's sandbox rules: methods of str/dict/list first, then dict keys; Undefined if absent.
Value get_attribute(const Value& object, const std::string& name, int line);
// Subscript: dict key / list or str index (negative counts from the end); Undefined if absent.
Value get_item(const Value& object, const Value& key, int line);
// markupsafe's escape(): & < > " ' as HTML entities.
std::string html_escape(const std::string& s);
// range, namespace, dict, raise_exception, strftime_now.
ValueDict global_functions();

}  // namespace fm::jinja
