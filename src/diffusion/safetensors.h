#pragma once
// The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape
// and [begin, end) byte range in the data area, then the data. The reader maps the file and checks every entry
// (dtype, shape, ranges inside the file, no overlaps, sizes matching the shape) before handing out a tensor.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "diffusion/tensor_source.h"

namespace fm {

class MappedFile;

class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses a safetensors image held in memory (the bytes must outlive the index).
class SafetensorsIndex : public TensorSource {
 public:
  SafetensorsIndex(const uint8_t* data, size_t size);  // throws SafetensorsError
  const TensorRef* find(const std::string& name) const override;
  const std::map<std::string, TensorRef>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::map<std::string, TensorRef> tensors_;
  std::map<std::string, std::string> metadata_;
};

class SafetensorsFile : public TensorSource {
 public:
  explicit SafetensorsFile(const std::string& path);  // throws SafetensorsError / std::runtime_error
  ~SafetensorsFile() override;
  const TensorRef* find(const std::string& name) const override { return index_->find(name); }
  bool maps_file() const override { return true; }
  const SafetensorsIndex& index() const { return *index_; }

 private:
  std::unique_ptr<MappedFile> file_;
  std::unique_ptr<SafetensorsIndex> index_;
};

// Writes a safetensors file of F32 or F16 tensors in the given order; fill(i, out) writes the values of tensors[i]
// (out sized to its element count). The file appears under `path` only once complete.
struct SafetensorsEntry {
  std::string name;
  std::vector<int64_t> shape;
};
void write_safetensors(const std::string& path, const std::vector<SafetensorsEntry>& tensors, TensorType type,
                       const std::function<void(size_t, std::vector<float>&)>& fill);

}  // namespace fm
