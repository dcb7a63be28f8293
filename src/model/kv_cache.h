#pragma once
// Per-layer key/value storage for one sequence. Rows are positions; elements are f32 or f16 (llama.cpp's
// default, half the memory). Keys are stored after RoPE. A layer may hold fewer rows than n_ctx (sliding-window
// layers): its rows are then a ring indexed by position modulo its capacity.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/tensor_type.h"

namespace fm {

class KvCache {
 public:
  // n_ctx positions; per layer K rows of k_width and V rows of v_width elements of `type` (F32 or F16);
  // layer_rows[l] (optional) = rows kept for layer l, at most n_ctx.
  KvCache(int64_t n_layer, int64_t n_ctx, int64_t k_width, int64_t v_width, TensorType type = TensorType::F16,
          const std::vector<int64_t>& layer_rows = {});

  TensorType type() const { return type_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_used() const { return n_used_; }  // positions filled so far
  void set_used(int64_t n) { n_used_ = n; }
  void clear() {
    n_used_ = 0;
    pos_shift_ = 0;
  }
  // RoPE position of row r = r + pos_shift(): M-RoPE images fill many rows but advance the position by one.
  int64_t pos_shift() const { return pos_shift_; }
  void add_pos_shift(int64_t d) { pos_shift_ += d; }

  // Copies the first n positions of another cache with the same geometry (a prompt shared by n > 1 choices), and its
  // position shift.
  void copy_prefix(const KvCache& other, int64_t n);
  // Converts and stores the key and value rows of one position.
  void store(int64_t layer, int64_t pos, const float* k, const float* v);
  const void* k(int64_t layer, int64_t pos) const { return k_[layer].data() + row(layer, pos) * k_row_bytes_; }
  const void* v(int64_t layer, int64_t pos) const { return v_[layer].data() + row(layer, pos) * v_row_bytes_; }
  size_t bytes() const;
  size_t k_row_bytes() const { return k_row_bytes_; }
  size_t v_row_bytes() const { return v_row_bytes_; }
  // Positions from pos on whose rows are contiguous (a window ring wraps to row 0 after its last row).
  int64_t rows_until_wrap(int64_t layer, int64_t pos) const { return rows_[layer] - static_cast<int64_t>(row(layer, pos)); }

 private:
  size_t row(int64_t layer, int64_t pos) const { return static_cast<size_t>(pos % rows_[layer]); }

  TensorType type_;
  int64_t n_ctx_, k_width_, v_width_;
  size_t k_row_bytes_, v_row_bytes_;
  int64_t n_used_ = 0;
  int64_t pos_shift_ = 0;
  std::vector<int64_t> rows_;                // [n_layer]
  std::vector<std::vector<uint8_t>> k_, v_;  // [n_layer][rows * row bytes]
};

}  // namespace fm
