#include "diffusion/tensor_source.h"

#include <stdexcept>

namespace fm {

int64_t TensorRef::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void TensorMap::add(const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
  TensorRef ref;
  ref.shape = std::move(shape);
  if (ref.elements() != static_cast<int64_t>(values.size()))
    throw std::invalid_argument("tensor " + name + ": value count does not match its shape");
  buffers_.push_back(std::move(values));
  ref.data = reinterpret_cast<const uint8_t*>(buffers_.back().data());
  refs_[name] = std::move(ref);
}

const TensorRef* TensorMap::find(const std::string& name) const {
  const auto it = refs_.find(name);
  return it == refs_.end() ? nullptr : &it->second;
}

}  // namespace fm
