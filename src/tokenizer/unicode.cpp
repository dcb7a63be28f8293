#include "tokenizer/unicode.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <array>

namespace fm {

uint32_t utf8_decode(std::string_view s, size_t pos, size_t* len) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = byte(pos);
  *len = 1;
  if (b0 < 0x80) return b0;
  size_t need;
  uint32_t cp;
  if ((b0 & 0xE0) == 0xC0) need = 1, cp = b0 & 0x1F;
  else if ((b0 & 0xF0) == 0xE0) need = 2, cp = b0 & 0x0F;
  else if ((b0 & 0xF8) == 0xF0) need = 3, cp = b0 & 0x07;
  else return 0xFFFD;
  if (pos + need >= s.size()) return 0xFFFD;  // truncated sequence
  for (size_t k = 1; k <= need; ++k) {
    const uint8_t b = byte(pos + k);
    if ((b & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (b & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF, like a strict decoder.
  static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
  *len = need + 1;
  return cp;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

void utf8_split(std::string_view s, std::vector<uint32_t>* cps, std::vector<uint32_t>* offsets) {
  cps->clear();
  offsets->clear();
  for (size_t pos = 0; pos < s.size();) {
    size_t len;
    cps->push_back(utf8_decode(s, pos, &len));
    offsets->push_back(static_cast<uint32_t>(pos));
    pos += len;
  }
  offsets->push_back(static_cast<uint32_t>(s.size()));
}

namespace {

uint32_t category_mask(std::string_view c) {
  if (c == "L") return U_GC_L_MASK;
  if (c == "Lu") return U_GC_LU_MASK;
  if (c == "Ll") return U_GC_LL_MASK;
  if (c == "Lt") return U_GC_LT_MASK;
  if (c == "Lm") return U_GC_LM_MASK;
  if (c == "Lo") return U_GC_LO_MASK;
  if (c == "N") return U_GC_N_MASK;
  if (c == "Nd") return U_GC_ND_MASK;
  if (c == "Nl") return U_GC_NL_MASK;
  if (c == "No") return U_GC_NO_MASK;
  if (c == "P") return U_GC_P_MASK;
  if (c == "S") return U_GC_S_MASK;
  if (c == "M") return U_GC_M_MASK;
  if (c == "Mn") return U_GC_MN_MASK;
  if (c == "Z") return U_GC_Z_MASK;
  if (c == "C") return U_GC_C_MASK;
  return 0;
}

}  // namespace

bool category_known(std::string_view category) { return category_mask(category) != 0; }

bool in_category(uint32_t cp, std::string_view category) {
  const uint32_t mask = category_mask(category);
  return mask != 0 && (U_GET_GC_MASK(static_cast<UChar32>(cp)) & mask) != 0;
}

bool is_letter(uint32_t cp) { return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_L_MASK) != 0; }
bool is_number(uint32_t cp) { return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_N_MASK) != 0; }
bool is_punctuation(uint32_t cp) { return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_P_MASK) != 0; }
bool is_mark(uint32_t cp) { return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_M_MASK) != 0; }
bool is_whitespace(uint32_t cp) { return u_isUWhiteSpace(static_cast<UChar32>(cp)); }
uint32_t to_lower(uint32_t cp) { return static_cast<uint32_t>(u_tolower(static_cast<UChar32>(cp))); }
uint32_t to_upper(uint32_t cp) { return static_cast<uint32_t>(u_toupper(static_cast<UChar32>(cp))); }

std::string nfc(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) return std::string(text);
  if (normalizer->isNormalized(icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size()))), status) &&
      U_SUCCESS(status))
    return std::string(text);
  status = U_ZERO_ERROR;
  const icu::UnicodeString out =
      normalizer->normalize(icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size()))), status);
  std::string result;
  out.toUTF8String(result);
  return result;
}

namespace {

// bytes_to_unicode(): printable bytes map to themselves, the others to U+0100 upwards in byte order.
struct ByteMap {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 512> to_byte{};  // images are all below U+0200
  ByteMap() {
    to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

}  // namespace

uint32_t byte_to_unicode(uint8_t byte) { return byte_map().to_cp[byte]; }

int unicode_to_byte(uint32_t cp) { return cp < 512 ? byte_map().to_byte[cp] : -1; }

}  // namespace fm
