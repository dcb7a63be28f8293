#pragma once
// Builds GGUF v3 files: used by tests (malformed-file corpora, synthetic models) and model synthesis.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_value.h"
#include "gguf/tensor_type.h"

namespace fm {

// A metadata value to be written; arrays may nest.
struct GgufWriteValue {
  GgufValueType type = GgufValueType::UINT32;
  uint64_t bits = 0;  // scalar payload: integer bits, or float/double bit pattern
  std::string str;
  GgufValueType elem_type = GgufValueType::UINT8;  // for arrays
  std::vector<GgufWriteValue> items;               // for arrays

  static GgufWriteValue u32(uint32_t v);
  static GgufWriteValue i32(int32_t v);
  static GgufWriteValue u64(uint64_t v);
  static GgufWriteValue f32(float v);
  static GgufWriteValue boolean(bool v);
  static GgufWriteValue string(std::string_view v);
  static GgufWriteValue array(GgufValueType elem_type, std::vector<GgufWriteValue> items);
  static GgufWriteValue strings(const std::vector<std::string>& v);
  static GgufWriteValue f32s(const std::vector<float>& v);
  static GgufWriteValue i32s(const std::vector<int32_t>& v);
};

// Where the writer put each structural field, so tests can corrupt exactly that field.
struct GgufFieldMark {
  enum class Kind { kMagic, kVersion, kTensorCount, kKvCount, kStringLength, kValueType, kArrayType, kArrayLength,
                    kNDims, kDim, kTensorType, kTensorOffset, kSectionEnd };
  Kind kind;
  size_t offset;  // byte offset in the serialized file
  size_t size;    // bytes of the field (0 for kSectionEnd)
};

class GgufWriter {
 public:
  explicit GgufWriter(size_t alignment = 32) : alignment_(alignment) {}

  void set(std::string key, GgufWriteValue value);
  // Adds a tensor whose data is given in the file layout of `type`; dims[0] is the row length.
  void add_tensor(std::string name, TensorType type, std::vector<int64_t> dims, std::vector<uint8_t> data);
  // Adds a tensor whose bytes are produced only while writing (large synthesised models never sit in memory):
  // fill(dst) writes exactly the tensor's byte size.
  using TensorFill = std::function<void(uint8_t* dst)>;
  void add_tensor(std::string name, TensorType type, std::vector<int64_t> dims, TensorFill fill);

  std::vector<uint8_t> serialize(std::vector<GgufFieldMark>* marks = nullptr) const;
  void write_file(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> dims;
    std::vector<uint8_t> data;
    TensorFill fill;  // set instead of data for generated tensors
    size_t n_bytes = 0;
  };
  std::vector<uint8_t> header(std::vector<GgufFieldMark>* marks, std::vector<uint64_t>* offsets) const;
  size_t alignment_;
  std::vector<std::pair<std::string, GgufWriteValue>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace fm
