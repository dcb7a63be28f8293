#pragma once
// Whole-file reads for configuration, templates and test inputs.
#include <string>

namespace fm {

// The file's bytes; throws std::runtime_error naming the path when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace fm
