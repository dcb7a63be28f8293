#include "model/weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

#include "gguf/gguf_file.h"
#include "gguf/mapped_file.h"
#include "tensor/kernels/kernel_table.h"

namespace fm {
void WeightBinder::attach_packed(MatrixView& m, bool release_file_pages) {
  if (!best_kernels().packed_matmul || !PackedMatrix::packable(m.type, m.n_cols)) return;
  // Tied matrices (the same tensor bound twice) share one packed copy; tensors of a hostile file may overlap
  // with different shapes, so the key is the whole view.
  const PackKey key{m.data, m.type, m.n_cols, m.n_rows};
  auto it = packed_.find(key);
  if (it == packed_.end()) {
    it = packed_.emplace(key, PackedMatrix::pack(m.type, m.n_cols, m.n_rows, m.data, m.row_bytes)).first;
    // The packed copy is what the kernels read; the file's pages of the matrix go back to the page cache (a later
    // read, e.g. an embedding row, faults them in again).
    if (release_file_pages && file_.is_file_mapping()) fm::release_file_pages(m.data, m.row_bytes * static_cast<size_t>(m.n_rows));
  }
  m.packed = it->second.get();
}

std::optional<MatrixView> WeightBinder::optional_matrix(const std::string& name, int64_t n_cols, int64_t n_rows) {
  auto m = bind(name, n_cols, n_rows);
  if (m) attach_packed(*m, true);
  return m;
}

MatrixView WeightBinder::lookup_matrix(const std::string& name, int64_t n_cols, int64_t n_rows) {
  auto m = bind(name, n_cols, n_rows);
  if (!m) throw GgufError("missing tensor '" + name + "'");
  return *m;
}

MatrixView WeightBinder::also_for_products(MatrixView m) {
  attach_packed(m, false);
  return m;
}

std::optional<MatrixView> WeightBinder::bind(const std::string& name, int64_t n_cols, int64_t n_rows) const {
  const GgufTensorInfo* t = file_.find_tensor(name);
  if (!t) return std::nullopt;
  if (t->ne[0] != n_cols || t->n_rows() != n_rows || t->ne[2] != 1 || t->ne[3] != 1)
    throw GgufError("tensor '" + name + "' has shape " + t->shape_string() + ", expected [" + std::to_string(n_cols) +
                    ", " + std::to_string(n_rows) + "]");
  if (!weight_type_supported(t->type))
    throw GgufError("tensor '" + name + "' has type " + std::string(tensor_type_name(t->type)) +
                    ", which fmserve cannot compute with yet");
  MatrixView m;
  m.type = t->type;
  m.n_cols = n_cols;
  m.n_rows = n_rows;
  m.data = t->data;
  m.row_bytes = tensor_row_bytes(t->type, n_cols);
  return m;
}

std::vector<MatrixView> WeightBinder::experts(const std::string& name, int64_t n_cols, int64_t n_rows,
                                             int64_t n_expert) {
  const GgufTensorInfo* t = file_.find_tensor(name);
  if (!t) throw GgufError("missing tensor '" + name + "'");
  if (t->ne[0] != n_cols || t->ne[1] != n_rows || t->ne[2] != n_expert || t->ne[3] != 1)
    throw GgufError("tensor '" + name + "' has shape " + t->shape_string() + ", expected [" + std::to_string(n_cols) +
                    ", " + std::to_string(n_rows) + ", " + std::to_string(n_expert) + "]");
  if (!weight_type_supported(t->type))
    throw GgufError("tensor '" + name + "' has type " + std::string(tensor_type_name(t->type)) +
                    ", which fmserve cannot compute with yet");
  std::vector<MatrixView> out;
  const size_t row_bytes = tensor_row_bytes(t->type, n_cols);
  for (int64_t e = 0; e < n_expert; ++e) {
    out.push_back({t->type, n_cols, n_rows, t->data + static_cast<size_t>(e * n_rows) * row_bytes, row_bytes});
    attach_packed(out.back(), true);
  }
  return out;
}

MatrixView WeightBinder::flattened_matrix(const std::string& name, int64_t n_cols, int64_t n_rows) {
  const GgufTensorInfo* t = file_.find_tensor(name);
  if (!t) throw GgufError("missing tensor '" + name + "'");
  int last = kMaxTensorDims - 1;
  while (last > 0 && t->ne[last] == 1) --last;
  if (t->ne[last] != n_rows || t->n_elements() != n_cols * n_rows)
    throw GgufError("tensor '" + name + "' has shape " + t->shape_string() + ", expected " + std::to_string(n_cols) +
                    " elements in each of " + std::to_string(n_rows) + " rows");
  if (!weight_type_supported(t->type) || n_cols % tensor_type_info(static_cast<uint32_t>(t->type))->block_elems != 0)
    throw GgufError("tensor '" + name + "' has type " + std::string(tensor_type_name(t->type)) +
                    ", which fmserve cannot compute with yet");
  MatrixView m{t->type, n_cols, n_rows, t->data, tensor_row_bytes(t->type, n_cols)};
  attach_packed(m, true);
  return m;
}

MatrixView WeightBinder::matrix(const std::string& name, int64_t n_cols, int64_t n_rows) {
  auto m = optional_matrix(name, n_cols, n_rows);
  if (!m) throw GgufError("missing tensor '" + name + "'");
  return *m;
}

const float* WeightBinder::optional_vector(const std::string& name, int64_t n) {
  const GgufTensorInfo* t = file_.find_tensor(name);
  if (!t) return nullptr;
  if (t->n_elements() != n)
    throw GgufError("tensor '" + name + "' has shape " + t->shape_string() + ", expected [" + std::to_string(n) + "]");
  if (t->type == TensorType::F32 && reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0)
    return reinterpret_cast<const float*>(t->data);
  const DequantizeRowFn deq = scalar_kernels().dequantize_fn(t->type);
  if (!deq || t->ne[0] % (tensor_type_info(static_cast<uint32_t>(t->type))->block_elems) != 0)
    throw GgufError("tensor '" + name + "' has unsupported type " + std::string(tensor_type_name(t->type)));
  owned_.emplace_back(static_cast<size_t>(n));
  deq(t->data, owned_.back().data(), n);
  return owned_.back().data();
}

const float* WeightBinder::vector(const std::string& name, int64_t n) {
  const float* v = optional_vector(name, n);
  if (!v) throw GgufError("missing tensor '" + name + "'");
  return v;
}

}  // namespace fm
