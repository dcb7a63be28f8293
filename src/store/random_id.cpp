#include "store/random_id.h"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace fm {

namespace {
void random_bytes(unsigned char* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("no secure random source");
}
}  // namespace

std::string random_hex(size_t bytes) {
  static const char* digits = "0123456789abcdef";
  std::vector<unsigned char> buf(bytes);
  random_bytes(buf.data(), bytes);
  std::string out;
  for (unsigned char c : buf) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string random_id(const std::string& prefix, size_t length) {
  static const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out = prefix;
  std::vector<unsigned char> buf(length);
  random_bytes(buf.data(), length);
  for (unsigned char c : buf) out += alphabet[c % 36];  // 256 % 36 = 4: a negligible bias for an id
  return out;
}

}  // namespace fm
