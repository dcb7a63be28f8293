#pragma once
// Unicode helpers for tokenizers: UTF-8 decoding that never fails (invalid bytes become U+FFFD with their length),
// general categories and white space from ICU, and GPT-2's byte <-> printable code point mapping.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fm {

// Decodes the code point at s[pos]; *len receives its byte length (1 for an invalid byte, decoded as U+FFFD).
uint32_t utf8_decode(std::string_view s, size_t pos, size_t* len);
void utf8_append(std::string& out, uint32_t cp);
// Code points of s, and for each its byte offset (offsets has one extra entry: s.size()).
void utf8_split(std::string_view s, std::vector<uint32_t>* cps, std::vector<uint32_t>* offsets);

bool is_letter(uint32_t cp);       // \p{L}
bool is_number(uint32_t cp);       // \p{N}
bool is_punctuation(uint32_t cp);  // \p{P}
bool is_whitespace(uint32_t cp);   // \s: the White_Space property
bool is_mark(uint32_t cp);         // \p{M}
// True if cp is in the general category named by a one- or two-letter code (L, Lu, N, Nd, P, S, M, Z, C, ...).
bool in_category(uint32_t cp, std::string_view category);
bool category_known(std::string_view category);
uint32_t to_lower(uint32_t cp);
uint32_t to_upper(uint32_t cp);

// Unicode normalisation form C (invalid UTF-8 is replaced by U+FFFD).
std::string nfc(std::string_view text);

// GPT-2 byte-level BPE: each byte maps to a printable code point (bytes_to_unicode), and back.
uint32_t byte_to_unicode(uint8_t byte);
int unicode_to_byte(uint32_t cp);  // -1 if cp is not an image of a byte

}  // namespace fm
