#pragma once
// Tensor element types as numbered by the GGUF format (ggml's type ids), with their block geometry.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace fm {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

struct TensorTypeInfo {
  std::string_view name;
  int64_t block_elems;  // elements per block (1 for plain types)
  size_t block_bytes;   // bytes per block
};

// Geometry of a type id read from a file; nullopt for ids this build does not know.
std::optional<TensorTypeInfo> tensor_type_info(uint32_t type_id);
std::string_view tensor_type_name(TensorType type);
std::optional<TensorType> tensor_type_from_name(std::string_view name);

// Bytes of one row of n elements; n must be a multiple of the block size.
size_t tensor_row_bytes(TensorType type, int64_t n);

}  // namespace fm
