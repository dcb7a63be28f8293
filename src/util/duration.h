#pragma once
// Durations as people write them in options and configuration files.
#include <cstdint>
#include <string>

namespace fm {

// "30d", "12h", "15m", "90s" or plain seconds; throws std::invalid_argument otherwise.
int64_t parse_duration_seconds(const std::string& text);

}  // namespace fm
