#pragma once
// Unguessable identifiers from the system's secure random source.
#include <cstddef>
#include <string>

namespace fm {

// `bytes` random bytes as lower-case hex.
std::string random_hex(size_t bytes);
// prefix + `length` random characters from [a-z0-9] (ids that look like the cloud's, e.g. "fm7k2c0a…").
std::string random_id(const std::string& prefix, size_t length = 20);

}  // namespace fm
