#include "gguf/gguf_value.h"

#include <cstring>
#include <sstream>

#include "gguf/gguf_file.h"

namespace fm {
namespace {

template <typename T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // x86-64 and every target we build for are little-endian
  return v;
}

}  // namespace

std::string_view gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8: return "u8";
    case GgufValueType::INT8: return "i8";
    case GgufValueType::UINT16: return "u16";
    case GgufValueType::INT16: return "i16";
    case GgufValueType::UINT32: return "u32";
    case GgufValueType::INT32: return "i32";
    case GgufValueType::FLOAT32: return "f32";
    case GgufValueType::BOOL: return "bool";
    case GgufValueType::STRING: return "str";
    case GgufValueType::ARRAY: return "arr";
    case GgufValueType::UINT64: return "u64";
    case GgufValueType::INT64: return "i64";
    case GgufValueType::FLOAT64: return "f64";
  }
  return "?";
}

size_t gguf_value_type_size(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16:
    case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
    case GgufValueType::FLOAT64: return 8;
    case GgufValueType::STRING:
    case GgufValueType::ARRAY: return 0;
  }
  return 0;
}

bool gguf_value_type_valid(uint32_t type) { return type <= static_cast<uint32_t>(GgufValueType::FLOAT64); }

double GgufArray::number(uint64_t idx) const {
  if (idx >= count || raw == nullptr) throw GgufError("array index out of range or array is not numeric");
  const uint8_t* p = raw + idx * gguf_value_type_size(elem_type);
  switch (elem_type) {
    case GgufValueType::FLOAT32: return load_le<float>(p);
    case GgufValueType::FLOAT64: return load_le<double>(p);
    default: return static_cast<double>(integer(idx));
  }
}

int64_t GgufArray::integer(uint64_t idx) const {
  if (idx >= count || raw == nullptr) throw GgufError("array index out of range or array is not numeric");
  const uint8_t* p = raw + idx * gguf_value_type_size(elem_type);
  switch (elem_type) {
    case GgufValueType::UINT8:
    case GgufValueType::BOOL: return load_le<uint8_t>(p);
    case GgufValueType::INT8: return load_le<int8_t>(p);
    case GgufValueType::UINT16: return load_le<uint16_t>(p);
    case GgufValueType::INT16: return load_le<int16_t>(p);
    case GgufValueType::UINT32: return load_le<uint32_t>(p);
    case GgufValueType::INT32: return load_le<int32_t>(p);
    case GgufValueType::UINT64: return static_cast<int64_t>(load_le<uint64_t>(p));
    case GgufValueType::INT64: return load_le<int64_t>(p);
    case GgufValueType::FLOAT32:
    case GgufValueType::FLOAT64: {
      const double f = elem_type == GgufValueType::FLOAT32 ? load_le<float>(p) : load_le<double>(p);
      if (!(f >= -9.2e18 && f <= 9.2e18)) throw GgufError("array value is not a representable integer");
      return static_cast<int64_t>(f);
    }
    default: throw GgufError("array of " + std::string(gguf_value_type_name(elem_type)) + " is not numeric");
  }
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::UINT16:
    case GgufValueType::INT16:
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::UINT64:
    case GgufValueType::INT64: return true;
    default: return false;
  }
}

bool GgufValue::is_number() const {
  return is_integer() || type == GgufValueType::FLOAT32 || type == GgufValueType::FLOAT64;
}

int64_t GgufValue::as_int() const {
  switch (type) {
    case GgufValueType::UINT8:
    case GgufValueType::UINT16:
    case GgufValueType::UINT32:
    case GgufValueType::UINT64:
      if (u > static_cast<uint64_t>(INT64_MAX)) throw GgufError("integer value out of range");
      return static_cast<int64_t>(u);
    case GgufValueType::INT8:
    case GgufValueType::INT16:
    case GgufValueType::INT32:
    case GgufValueType::INT64: return i;
    default: throw GgufError("expected an integer, found " + std::string(gguf_value_type_name(type)));
  }
}

double GgufValue::as_double() const {
  if (type == GgufValueType::FLOAT32 || type == GgufValueType::FLOAT64) return f;
  if (is_integer()) return static_cast<double>(as_int());
  throw GgufError("expected a number, found " + std::string(gguf_value_type_name(type)));
}

bool GgufValue::as_bool() const {
  if (type != GgufValueType::BOOL) throw GgufError("expected a bool, found " + std::string(gguf_value_type_name(type)));
  return u != 0;
}

std::string_view GgufValue::as_string() const {
  if (type != GgufValueType::STRING) throw GgufError("expected a string, found " + std::string(gguf_value_type_name(type)));
  return str;
}

const GgufArray& GgufValue::as_array() const {
  if (type != GgufValueType::ARRAY || !array)
    throw GgufError("expected an array, found " + std::string(gguf_value_type_name(type)));
  return *array;
}

namespace {

std::string quote(std::string_view s, size_t max_len = 60) {
  std::string out = "\"";
  for (size_t k = 0; k < s.size() && k < max_len; ++k) {
    unsigned char c = static_cast<unsigned char>(s[k]);
    if (c == '\n') out += "\\n";
    else if (c == '"') out += "\\\"";
    else if (c < 0x20) out += "\\x" + std::to_string(c);
    else out += static_cast<char>(c);
  }
  if (s.size() > max_len) out += "...";
  return out + "\"";
}

}  // namespace

std::string GgufValue::to_display(size_t max_items) const {
  std::ostringstream os;
  switch (type) {
    case GgufValueType::STRING: return quote(str);
    case GgufValueType::BOOL: return u ? "true" : "false";
    case GgufValueType::FLOAT32:
    case GgufValueType::FLOAT64: os << f; return os.str();
    case GgufValueType::ARRAY: {
      const GgufArray& arr = *array;
      os << "[" << gguf_value_type_name(arr.elem_type) << " x " << arr.count << "]";
      if (arr.count == 0) return os.str();
      os << " [";
      for (uint64_t k = 0; k < arr.count && k < max_items; ++k) {
        if (k) os << ", ";
        if (arr.elem_type == GgufValueType::STRING) os << quote(arr.strings[k], 24);
        else if (arr.elem_type == GgufValueType::ARRAY) os << arr.arrays[k].to_display(max_items);
        else if (arr.elem_type == GgufValueType::FLOAT32 || arr.elem_type == GgufValueType::FLOAT64) os << arr.number(k);
        else os << arr.integer(k);
      }
      if (arr.count > max_items) os << ", ...";
      os << "]";
      return os.str();
    }
    default:
      if (is_integer()) {
        if (type == GgufValueType::UINT64) os << u;
        else os << as_int();
      }
      return os.str();
  }
}

}  // namespace fm
