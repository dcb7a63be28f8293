#pragma once
// Binds GGUF tensors to a family's weights, checking presence, shape and type with one clear error each.
// Matrices stay in the file's mapped memory and type; small vectors (norm gains, biases) are given as f32.
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "tensor/matmul.h"

namespace fm {

class GgufFile;

class WeightBinder {
 public:
  explicit WeightBinder(const GgufFile& file) : file_(file) {}

  // A [n_rows, n_cols] matrix (GGUF dims {n_cols, n_rows}) of a supported weight type.
  MatrixView matrix(const std::string& name, int64_t n_cols, int64_t n_rows) const;
  std::optional<MatrixView> optional_matrix(const std::string& name, int64_t n_cols, int64_t n_rows) const;
  // A 3-D [n_expert, n_rows, n_cols] tensor (GGUF dims {n_cols, n_rows, n_expert}) as one matrix per expert.
  std::vector<MatrixView> experts(const std::string& name, int64_t n_cols, int64_t n_rows, int64_t n_expert) const;
  // A [n] vector as f32: pointer into the file for F32 tensors, else a converted copy owned by the binder.
  const float* vector(const std::string& name, int64_t n);
  const float* optional_vector(const std::string& name, int64_t n);

 private:
  const GgufFile& file_;
  std::deque<std::vector<float>> owned_;
};

}  // namespace fm
