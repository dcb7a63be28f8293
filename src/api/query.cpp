#include "api/query.h"

#include "api/api_error.h"
#include "api/json_input.h"

namespace fm {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

QueryParams::QueryParams(const std::string& target) {
  const size_t q = target.find('?');
  if (q == std::string::npos) return;
  const std::string query = target.substr(q + 1);
  for (size_t start = 0; start <= query.size();) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string item = query.substr(start, end - start);
    if (!item.empty()) {
      const size_t eq = item.find('=');
      pairs_.emplace_back(decode(item.substr(0, eq)), eq == std::string::npos ? "" : decode(item.substr(eq + 1)));
    }
    start = end + 1;
  }
}

std::string QueryParams::get(const std::string& name, const std::string& fallback) const {
  for (const auto& [k, v] : pairs_)
    if (k == name) return v;
  return fallback;
}

std::vector<std::string> QueryParams::all(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : pairs_) {
    if (k != name) continue;
    for (size_t start = 0; start <= v.size();) {
      size_t end = v.find(',', start);
      if (end == std::string::npos) end = v.size();
      if (end > start) out.push_back(v.substr(start, end - start));
      start = end + 1;
    }
  }
  return out;
}

size_t QueryParams::size_or(const std::string& name, size_t fallback, size_t max) const {
  const std::string v = get(name);
  if (v.empty()) return fallback;
  if (v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    throw bad_request(name + " must be a non-negative integer (got " + quote_value(v) + ")");
  const size_t n = std::stoul(v);
  if (n > max) throw bad_request(name + " must be at most " + std::to_string(max));
  return n == 0 ? fallback : n;
}

}  // namespace fm
