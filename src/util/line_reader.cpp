#include "util/line_reader.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace fm {

namespace {
constexpr size_t kBlock = 1 << 20;
}

LineReader::LineReader(const std::string& path, size_t max_line_bytes) : max_(max_line_bytes) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno));
}

LineReader::~LineReader() {
  if (file_) std::fclose(file_);
}

bool LineReader::fill() {
  if (eof_) return false;
  block_.erase(0, pos_);
  pos_ = 0;
  const size_t old = block_.size();
  block_.resize(old + kBlock);
  const size_t n = std::fread(block_.data() + old, 1, kBlock, file_);
  block_.resize(old + n);
  if (n == 0) eof_ = true;
  return n > 0;
}

bool LineReader::next(std::string& line, bool& too_long) {
  line.clear();
  too_long = false;
  bool any = false;
  for (;;) {
    const size_t nl = block_.find('\n', pos_);
    const size_t end = nl == std::string::npos ? block_.size() : nl;
    const size_t room = max_ > line.size() ? max_ - line.size() : 0;
    const size_t take = std::min(room, end - pos_);
    line.append(block_, pos_, take);
    if (end - pos_ > take) too_long = true;
    any |= end > pos_ || nl != std::string::npos;
    if (nl != std::string::npos) {
      pos_ = nl + 1;
      break;
    }
    pos_ = block_.size();
    if (!fill()) break;
  }
  if (!any) return false;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  ++line_number_;
  return true;
}

int64_t count_lines(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno));
  std::string block(kBlock, '\0');
  int64_t lines = 0;
  char last = '\n';
  for (size_t n; (n = std::fread(block.data(), 1, block.size(), f)) > 0;) {
    for (size_t i = 0; i < n; ++i) lines += block[i] == '\n';
    last = block[n - 1];
  }
  std::fclose(f);
  return lines + (last != '\n');
}

}  // namespace fm
