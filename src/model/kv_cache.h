#pragma once
// Per-layer key/value storage for one sequence. Rows are positions; elements are f32 or f16 (llama.cpp's
// default, half the memory). Keys are stored after RoPE.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/tensor_type.h"

namespace fm {

class KvCache {
 public:
  // n_ctx positions; per layer K rows of k_width and V rows of v_width elements of `type` (F32 or F16).
  KvCache(int64_t n_layer, int64_t n_ctx, int64_t k_width, int64_t v_width, TensorType type = TensorType::F16);

  TensorType type() const { return type_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_used() const { return n_used_; }  // positions filled so far
  void set_used(int64_t n) { n_used_ = n; }
  void clear() { n_used_ = 0; }

  // Converts and stores the key and value rows of one position.
  void store(int64_t layer, int64_t pos, const float* k, const float* v);
  const void* k(int64_t layer, int64_t pos) const { return k_[layer].data() + pos * k_row_bytes_; }  // [k_width]
  const void* v(int64_t layer, int64_t pos) const { return v_[layer].data() + pos * v_row_bytes_; }  // [v_width]
  size_t bytes() const;

 private:
  TensorType type_;
  int64_t n_ctx_, k_width_, v_width_;
  size_t k_row_bytes_, v_row_bytes_;
  int64_t n_used_ = 0;
  std::vector<std::vector<uint8_t>> k_, v_;  // [n_layer][n_ctx * row bytes]
};

}  // namespace fm
