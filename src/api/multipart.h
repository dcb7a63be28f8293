#pragma once
// multipart/form-data request bodies (RFC 7578), as OpenAI's file upload sends them: named parts, a file part with
// its filename. Bad bodies are refused with ApiError 400; parts are views into the body (no copies of the file).
#include <string>
#include <string_view>
#include <vector>

namespace fm {

struct FormPart {
  std::string name, filename, content_type;
  std::string_view data;
};

// Parses `body` by the boundary in `content_type`; throws ApiError 400 saying what is wrong.
std::vector<FormPart> parse_multipart(const std::string& content_type, std::string_view body, size_t max_parts = 16);

}  // namespace fm
