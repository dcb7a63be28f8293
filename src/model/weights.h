#pragma once
// Binds GGUF tensors to a family's weights, checking presence, shape and type with one clear error each.
// Matrices keep the file's type; where the CPU's kernels have a packed GEMM for it, a matrix is also repacked
// once here (the binder owns the copy) and the file's pages are released. Small vectors (norm gains, biases)
// are given as f32.
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "tensor/matmul.h"
#include "tensor/packed_matrix.h"

namespace fm {

class GgufFile;

class WeightBinder {
 public:
  explicit WeightBinder(const GgufFile& file) : file_(file) {}

  // A [n_rows, n_cols] matrix (GGUF dims {n_cols, n_rows}) of a supported weight type, for matrix products.
  MatrixView matrix(const std::string& name, int64_t n_cols, int64_t n_rows);
  std::optional<MatrixView> optional_matrix(const std::string& name, int64_t n_cols, int64_t n_rows);
  // A tensor of any rank read as a matrix of its last dimension's n_rows rows (a convolution kernel
  // [kw, kh, c_in, c_out] -> [c_out, kw * kh * c_in]).
  MatrixView flattened_matrix(const std::string& name, int64_t n_cols, int64_t n_rows);
  // A matrix read row by row (embedding look-up): never packed, the file's pages stay.
  MatrixView lookup_matrix(const std::string& name, int64_t n_cols, int64_t n_rows);
  // A look-up matrix that is also used for products (tied output embedding): packed, pages kept.
  MatrixView also_for_products(MatrixView m);
  // A 3-D [n_expert, n_rows, n_cols] tensor (GGUF dims {n_cols, n_rows, n_expert}) as one matrix per expert.
  std::vector<MatrixView> experts(const std::string& name, int64_t n_cols, int64_t n_rows, int64_t n_expert);
  // A [n] vector as f32: pointer into the file for F32 tensors, else a converted copy owned by the binder.
  const float* vector(const std::string& name, int64_t n);
  const float* optional_vector(const std::string& name, int64_t n);

 private:
  std::optional<MatrixView> bind(const std::string& name, int64_t n_cols, int64_t n_rows) const;
  void attach_packed(MatrixView& m, bool release_file_pages);

  const GgufFile& file_;
  std::deque<std::vector<float>> owned_;
  using PackKey = std::tuple<const uint8_t*, TensorType, int64_t, int64_t>;  // data, type, columns, rows
  std::map<PackKey, std::unique_ptr<PackedMatrix>> packed_;
};

}  // namespace fm
