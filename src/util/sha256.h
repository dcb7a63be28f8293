#pragma once
// SHA-256 of bytes as lowercase hex (content keys of caches; fixture checks).
#include <cstddef>
#include <string>

namespace fm {

std::string sha256_hex(const void* data, size_t size);

}  // namespace fm
