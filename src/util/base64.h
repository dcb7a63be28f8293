#pragma once
// Standard base64 (RFC 4648, with padding).
#include <optional>
#include <string>
#include <string_view>

namespace fm {

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not valid base64 (whitespace is not accepted).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace fm
