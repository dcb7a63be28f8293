#include "model/kv_cache.h"

namespace fm {

KvCache::KvCache(int64_t n_layer, int64_t n_ctx, int64_t k_width, int64_t v_width)
    : n_ctx_(n_ctx), k_width_(k_width), v_width_(v_width) {
  k_.assign(n_layer, std::vector<float>(static_cast<size_t>(n_ctx * k_width)));
  v_.assign(n_layer, std::vector<float>(static_cast<size_t>(n_ctx * v_width)));
}

size_t KvCache::bytes() const { return k_.size() * static_cast<size_t>(n_ctx_ * (k_width_ + v_width_)) * sizeof(float); }

}  // namespace fm
