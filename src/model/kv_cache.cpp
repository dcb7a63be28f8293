#include "model/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "tensor/fp16.h"

namespace fm {

KvCache::KvCache(int64_t n_layer, int64_t n_ctx, int64_t k_width, int64_t v_width, TensorType type,
                 const std::vector<int64_t>& layer_rows)
    : type_(type), n_ctx_(n_ctx), k_width_(k_width), v_width_(v_width) {
  if (type != TensorType::F32 && type != TensorType::F16) throw std::invalid_argument("KV cache type must be f32 or f16");
  const size_t elem = type == TensorType::F32 ? 4 : 2;
  k_row_bytes_ = elem * static_cast<size_t>(k_width);
  v_row_bytes_ = elem * static_cast<size_t>(v_width);
  rows_.assign(n_layer, n_ctx);
  for (size_t l = 0; l < layer_rows.size() && l < rows_.size(); ++l)
    if (layer_rows[l] > 0 && layer_rows[l] < n_ctx) rows_[l] = layer_rows[l];
  k_.resize(n_layer);
  v_.resize(n_layer);
  for (int64_t l = 0; l < n_layer; ++l) {
    k_[l].resize(static_cast<size_t>(rows_[l]) * k_row_bytes_);
    v_[l].resize(static_cast<size_t>(rows_[l]) * v_row_bytes_);
  }
}

void KvCache::store(int64_t layer, int64_t pos, const float* k, const float* v) {
  uint8_t* kd = k_[layer].data() + row(layer, pos) * k_row_bytes_;
  uint8_t* vd = v_[layer].data() + row(layer, pos) * v_row_bytes_;
  if (type_ == TensorType::F32) {
    std::memcpy(kd, k, k_row_bytes_);
    std::memcpy(vd, v, v_row_bytes_);
    return;
  }
  auto* k16 = reinterpret_cast<uint16_t*>(kd);
  auto* v16 = reinterpret_cast<uint16_t*>(vd);
  for (int64_t i = 0; i < k_width_; ++i) k16[i] = fp32_to_fp16(k[i]);
  for (int64_t i = 0; i < v_width_; ++i) v16[i] = fp32_to_fp16(v[i]);
}

void KvCache::copy_prefix(const KvCache& other, int64_t n) {
  if (other.type_ != type_ || other.k_width_ != k_width_ || other.v_width_ != v_width_ || other.k_.size() != k_.size() ||
      n > n_ctx_ || n > other.n_used_)
    throw std::invalid_argument("KV caches differ in shape");
  // Positions after an M-RoPE image run behind the rows: only a whole cache carries its shift over.
  if (n < other.n_used_ && other.pos_shift_ != 0)
    throw std::invalid_argument("part of a KV cache holding M-RoPE images cannot be copied");
  for (size_t l = 0; l < k_.size(); ++l) {
    for (int64_t pos = std::max<int64_t>(0, n - std::min(rows_[l], other.rows_[l])); pos < n; ++pos) {
      std::memcpy(k_[l].data() + row(static_cast<int64_t>(l), pos) * k_row_bytes_,
                  other.k_[l].data() + other.row(static_cast<int64_t>(l), pos) * k_row_bytes_, k_row_bytes_);
      std::memcpy(v_[l].data() + row(static_cast<int64_t>(l), pos) * v_row_bytes_,
                  other.v_[l].data() + other.row(static_cast<int64_t>(l), pos) * v_row_bytes_, v_row_bytes_);
    }
  }
  n_used_ = n;
  pos_shift_ = other.pos_shift_;
}

size_t KvCache::bytes() const {
  size_t total = 0;
  for (size_t l = 0; l < k_.size(); ++l) total += k_[l].size() + v_[l].size();
  return total;
}

}  // namespace fm
