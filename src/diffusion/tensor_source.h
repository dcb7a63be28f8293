#pragma once
// Named tensors a diffusion checkpoint provides, wherever they live: a mapped safetensors file or buffers built
// in memory (synthetic weights).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "gguf/tensor_type.h"

namespace fm {

struct TensorRef {
  TensorType type = TensorType::F32;  // F32, F16 or BF16; Q8_0 from GGUF files
  std::vector<int64_t> shape;         // PyTorch order (outermost first)
  const uint8_t* data = nullptr;      // row-major, little-endian
  int64_t elements() const;
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual const TensorRef* find(const std::string& name) const = 0;
  // True when the tensors' bytes are a read-only mapping of a file, whose pages may go back to the page cache once
  // a repacked copy replaces them (release_file_pages).
  virtual bool maps_file() const { return false; }
};

// Tensors owned in memory (f32).
class TensorMap : public TensorSource {
 public:
  void add(const std::string& name, std::vector<int64_t> shape, std::vector<float> values);
  const TensorRef* find(const std::string& name) const override;
  size_t size() const { return refs_.size(); }

 private:
  std::deque<std::vector<float>> buffers_;
  std::map<std::string, TensorRef> refs_;
};

}  // namespace fm
