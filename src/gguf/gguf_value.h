#pragma once
// Metadata values of a GGUF file. Strings and primitive arrays point into the file's bytes (zero copy),
// so a GgufValue is only valid while its GgufFile lives.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fm {

enum class GgufValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

std::string_view gguf_value_type_name(GgufValueType type);
// Bytes of one element of a fixed-size type, 0 for STRING and ARRAY.
size_t gguf_value_type_size(GgufValueType type);
bool gguf_value_type_valid(uint32_t type);

struct GgufValue;

struct GgufArray {
  GgufValueType elem_type = GgufValueType::UINT8;
  uint64_t count = 0;
  const uint8_t* raw = nullptr;             // fixed-size elements, little-endian, unaligned
  std::vector<std::string_view> strings;    // elem_type == STRING
  std::vector<GgufValue> arrays;            // elem_type == ARRAY (arrays of arrays)

  // Element i of a numeric array converted to the requested representation.
  double number(uint64_t i) const;
  int64_t integer(uint64_t i) const;
};

struct GgufValue {
  GgufValueType type = GgufValueType::UINT8;
  uint64_t u = 0;  // unsigned integers and BOOL
  int64_t i = 0;   // signed integers
  double f = 0;    // FLOAT32 / FLOAT64
  std::string_view str;
  std::shared_ptr<const GgufArray> array;

  bool is_integer() const;
  bool is_number() const;
  // Checked accessors: throw GgufError naming the expected type.
  int64_t as_int() const;
  double as_double() const;
  bool as_bool() const;
  std::string_view as_string() const;
  const GgufArray& as_array() const;

  // Short human-readable rendering (arrays abbreviated), for `fmserve inspect`.
  std::string to_display(size_t max_items = 8) const;
};

}  // namespace fm
