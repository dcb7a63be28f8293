#include "api/multipart.h"

#include <algorithm>
#include <cctype>

#include "api/api_error.h"

namespace fm {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string_view::npos) return "";
  const size_t b = s.find_last_not_of(" \t");
  return std::string(s.substr(a, b - a + 1));
}

// The value of `param` in a header value such as `form-data; name="file"; filename="a.jsonl"` ("" when absent).
std::string header_param(std::string_view value, const std::string& param) {
  size_t pos = 0;
  while ((pos = value.find(';', pos)) != std::string_view::npos) {
    ++pos;
    const size_t eq = value.find('=', pos);
    if (eq == std::string_view::npos) break;
    if (lower(trim(value.substr(pos, eq - pos))) != param) continue;
    std::string_view rest = value.substr(eq + 1);
    rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of(" \t")));
    if (!rest.empty() && rest.front() == '"') {
      std::string out;
      for (size_t i = 1; i < rest.size(); ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) out += rest[++i];
        else if (rest[i] == '"') return out;
        else out += rest[i];
      }
      throw bad_request("multipart: an unterminated quoted parameter");
    }
    return trim(rest.substr(0, rest.find(';')));
  }
  return "";
}

}  // namespace

std::vector<FormPart> parse_multipart(const std::string& content_type, std::string_view body, size_t max_parts) {
  if (lower(content_type).rfind("multipart/form-data", 0) != 0)
    throw bad_request("the request must be multipart/form-data (got " + (content_type.empty() ? std::string("none") : content_type) + ")");
  const std::string boundary = header_param(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 200) throw bad_request("multipart: the Content-Type has no usable boundary");
  const std::string delimiter = "--" + boundary;
  size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) throw bad_request("multipart: the body has no part");
  std::vector<FormPart> parts;
  for (;;) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
    if (body.substr(pos, 2) != "\r\n") throw bad_request("multipart: a delimiter is not followed by CRLF");
    pos += 2;
    const size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) throw bad_request("multipart: a part's headers do not end");
    FormPart part;
    for (size_t line = pos; line < headers_end + 2;) {
      const size_t eol = body.find("\r\n", line);
      const std::string_view header = body.substr(line, eol - line);
      line = eol + 2;
      const size_t colon = header.find(':');
      if (colon == std::string_view::npos) throw bad_request("multipart: a malformed part header");
      const std::string name = lower(trim(header.substr(0, colon)));
      const std::string_view value = header.substr(colon + 1);
      if (name == "content-disposition") {
        if (lower(trim(value.substr(0, value.find(';')))) != "form-data") throw bad_request("multipart: a part is not form-data");
        part.name = header_param(value, "name");
        part.filename = header_param(value, "filename");
      } else if (name == "content-type") {
        part.content_type = trim(value);
      }
    }
    if (part.name.empty()) throw bad_request("multipart: a part has no name");
    const size_t data_start = headers_end + 4;
    const size_t next = body.find("\r\n" + delimiter, data_start);
    if (next == std::string_view::npos) throw bad_request("multipart: the body ends inside a part");
    part.data = body.substr(data_start, next - data_start);
    parts.push_back(std::move(part));
    if (parts.size() > max_parts) throw bad_request("multipart: more than " + std::to_string(max_parts) + " parts");
    pos = next + 2;
  }
}

}  // namespace fm
