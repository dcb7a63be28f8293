#include "util/duration.h"

#include <stdexcept>

namespace fm {

int64_t parse_duration_seconds(const std::string& text) {
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("bad duration '" + text + "' (use e.g. 30d, 12h, 15m, 90s)");
  }
  const std::string unit = text.substr(used);
  int64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else if (unit == "d") scale = 86400;
  if (scale == 0 || n <= 0 || n > (int64_t{1} << 40) / scale)
    throw std::invalid_argument("bad duration '" + text + "' (use e.g. 30d, 12h, 15m, 90s)");
  return n * scale;
}

}  // namespace fm
