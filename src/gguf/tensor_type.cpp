#include "gguf/tensor_type.h"

#include <array>
#include <stdexcept>
#include <string>

namespace fm {
namespace {

struct Row {
  TensorType type;
  TensorTypeInfo info;
};

// Block sizes and byte counts of ggml's formats (see tensor/quant_blocks.h for the layouts).
constexpr std::array<Row, 20> kTypes = {{
    {TensorType::F32, {"F32", 1, 4}},
    {TensorType::F16, {"F16", 1, 2}},
    {TensorType::Q4_0, {"Q4_0", 32, 18}},
    {TensorType::Q4_1, {"Q4_1", 32, 20}},
    {TensorType::Q5_0, {"Q5_0", 32, 22}},
    {TensorType::Q5_1, {"Q5_1", 32, 24}},
    {TensorType::Q8_0, {"Q8_0", 32, 34}},
    {TensorType::Q8_1, {"Q8_1", 32, 36}},
    {TensorType::Q2_K, {"Q2_K", 256, 84}},
    {TensorType::Q3_K, {"Q3_K", 256, 110}},
    {TensorType::Q4_K, {"Q4_K", 256, 144}},
    {TensorType::Q5_K, {"Q5_K", 256, 176}},
    {TensorType::Q6_K, {"Q6_K", 256, 210}},
    {TensorType::Q8_K, {"Q8_K", 256, 292}},
    {TensorType::I8, {"I8", 1, 1}},
    {TensorType::I16, {"I16", 1, 2}},
    {TensorType::I32, {"I32", 1, 4}},
    {TensorType::I64, {"I64", 1, 8}},
    {TensorType::F64, {"F64", 1, 8}},
    {TensorType::BF16, {"BF16", 1, 2}},
}};

}  // namespace

std::optional<TensorTypeInfo> tensor_type_info(uint32_t type_id) {
  for (const auto& row : kTypes)
    if (static_cast<uint32_t>(row.type) == type_id) return row.info;
  return std::nullopt;
}

std::string_view tensor_type_name(TensorType type) {
  auto info = tensor_type_info(static_cast<uint32_t>(type));
  return info ? info->name : std::string_view("unknown");
}

std::optional<TensorType> tensor_type_from_name(std::string_view name) {
  for (const auto& row : kTypes)
    if (row.info.name == name) return row.type;
  return std::nullopt;
}

size_t tensor_row_bytes(TensorType type, int64_t n) {
  auto info = tensor_type_info(static_cast<uint32_t>(type));
  if (!info || n % info->block_elems != 0)
    throw std::invalid_argument("row of " + std::to_string(n) + " elements does not fit type " +
                                std::string(tensor_type_name(type)));
  return static_cast<size_t>(n / info->block_elems) * info->block_bytes;
}

}  // namespace fm
