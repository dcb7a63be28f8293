#pragma once
// Per-layer key/value storage for one sequence, in f32. Rows are positions.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fm {

class KvCache {
 public:
  // n_ctx positions; per layer K rows of k_width floats and V rows of v_width floats.
  KvCache(int64_t n_layer, int64_t n_ctx, int64_t k_width, int64_t v_width);

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_used() const { return n_used_; }  // positions filled so far
  void set_used(int64_t n) { n_used_ = n; }
  void clear() { n_used_ = 0; }

  float* k(int64_t layer, int64_t pos) { return k_[layer].data() + pos * k_width_; }  // [k_width]
  float* v(int64_t layer, int64_t pos) { return v_[layer].data() + pos * v_width_; }  // [v_width]
  const float* k(int64_t layer, int64_t pos) const { return k_[layer].data() + pos * k_width_; }
  const float* v(int64_t layer, int64_t pos) const { return v_[layer].data() + pos * v_width_; }
  size_t bytes() const;

 private:
  int64_t n_ctx_, k_width_, v_width_;
  int64_t n_used_ = 0;
  std::vector<std::vector<float>> k_, v_;  // [n_layer][n_ctx * width]
};

}  // namespace fm
