#pragma once
// Reads a text file line by line in fixed-size blocks: memory stays bounded by the longest line allowed, however
// large the file or long a line (a longer line is reported, not loaded).
#include <cstdint>
#include <cstdio>
#include <string>

namespace fm {

class LineReader {
 public:
  // Throws std::runtime_error when the file cannot be opened.
  LineReader(const std::string& path, size_t max_line_bytes);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line (without its "\n" or "\r\n"); false at the end of the file. `too_long` is set when the line
  // exceeded the limit (`line` then holds its first max_line_bytes bytes).
  bool next(std::string& line, bool& too_long);
  int64_t line_number() const { return line_number_; }  // 1-based, of the line last returned

 private:
  bool fill();
  std::FILE* file_ = nullptr;
  size_t max_;
  std::string block_;
  size_t pos_ = 0;
  bool eof_ = false;
  int64_t line_number_ = 0;
};

// Lines in a file (a last line without "\n" counts).
int64_t count_lines(const std::string& path);

}  // namespace fm
