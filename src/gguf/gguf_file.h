#pragma once
// GGUF v2/v3 reader: header, metadata, tensor table, data section. Every count, size, offset and string
// length is checked against the bytes present, so a hostile file yields a GgufError, never a crash or a
// huge allocation.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_value.h"
#include "gguf/tensor_type.h"

namespace fm {

class MappedFile;

class GgufError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr int kMaxTensorDims = 4;

struct GgufTensorInfo {
  std::string name;
  TensorType type = TensorType::F32;
  int n_dims = 0;
  int64_t ne[kMaxTensorDims] = {1, 1, 1, 1};  // ne[0] is the contiguous (row) dimension
  uint64_t offset = 0;                        // relative to the data section
  size_t n_bytes = 0;
  const uint8_t* data = nullptr;              // into the mapped file

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  std::string shape_string() const;
};

class GgufFile {
 public:
  // Maps and parses a file. Throws GgufError (or std::runtime_error for I/O) with one clear line.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Parses bytes owned by the caller (they must outlive the returned object). For tests and fuzzing.
  static std::unique_ptr<GgufFile> parse(const uint8_t* data, size_t size);

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }
  size_t file_size() const { return size_; }
  // True when the bytes are a read-only mapping of the file (open()), whose clean pages the kernel can drop and
  // re-read; false for caller-owned bytes (parse()).
  bool is_file_mapping() const { return mapping_ != nullptr; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;
  // Typed look-ups; the *_or variants return the default when the key is absent and throw on a wrong type.
  int64_t get_int(std::string_view key) const;
  int64_t get_int_or(std::string_view key, int64_t def) const;
  double get_float_or(std::string_view key, double def) const;
  bool get_bool_or(std::string_view key, bool def) const;
  std::string get_string(std::string_view key) const;
  std::string get_string_or(std::string_view key, std::string_view def) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  void parse_all();

  std::unique_ptr<MappedFile> mapping_;
  const uint8_t* bytes_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace fm
