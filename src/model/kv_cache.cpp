#include "model/kv_cache.h"

#include <cstring>
#include <stdexcept>

#include "tensor/fp16.h"

namespace fm {

KvCache::KvCache(int64_t n_layer, int64_t n_ctx, int64_t k_width, int64_t v_width, TensorType type)
    : type_(type), n_ctx_(n_ctx), k_width_(k_width), v_width_(v_width) {
  if (type != TensorType::F32 && type != TensorType::F16) throw std::invalid_argument("KV cache type must be f32 or f16");
  const size_t elem = type == TensorType::F32 ? 4 : 2;
  k_row_bytes_ = elem * static_cast<size_t>(k_width);
  v_row_bytes_ = elem * static_cast<size_t>(v_width);
  k_.assign(n_layer, std::vector<uint8_t>(static_cast<size_t>(n_ctx) * k_row_bytes_));
  v_.assign(n_layer, std::vector<uint8_t>(static_cast<size_t>(n_ctx) * v_row_bytes_));
}

void KvCache::store(int64_t layer, int64_t pos, const float* k, const float* v) {
  uint8_t* kd = k_[layer].data() + pos * k_row_bytes_;
  uint8_t* vd = v_[layer].data() + pos * v_row_bytes_;
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

size_t KvCache::bytes() const { return k_.size() * static_cast<size_t>(n_ctx_) * (k_row_bytes_ + v_row_bytes_); }

}  // namespace fm
