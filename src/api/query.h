#pragma once
// A request target's query string: name=value pairs, percent-decoded ('+' is a space), repeated names kept in
// order (list filters such as ?status=READY&status=DRAFT).
#include <string>
#include <utility>
#include <vector>

namespace fm {

class QueryParams {
 public:
  explicit QueryParams(const std::string& target);
  std::string get(const std::string& name, const std::string& fallback = {}) const;  // the first value
  std::vector<std::string> all(const std::string& name) const;  // every value, comma-separated lists split
  // A non-negative integer (a page size); throws ApiError 400 naming the parameter.
  size_t size_or(const std::string& name, size_t fallback, size_t max) const;

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
};

}  // namespace fm
