#include "service/image_input.h"

#include "image/image.h"
#include "service/service_error.h"
#include "tensor/kernels/kernel_table.h"
#include "service/image_fetch.h"
#include "util/sha256.h"

namespace fm {

ImageEncoder::ImageEncoder(const VisionEncoder& encoder, int threads, const ImageFetchConfig& fetch)
    : encoder_(encoder),
      fetch_(fetch),
      pool_(threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
      cache_capacity_(fetch.cache_bytes) {}

std::shared_ptr<const ImageEmbedding> ImageEncoder::encode(const std::string& url) { return encode_bytes(image_bytes_from_url(url, fetch_)); }

std::shared_ptr<const ImageEmbedding> ImageEncoder::encode_bytes(const std::string& bytes) {
  const std::string key = sha256_hex(bytes.data(), bytes.size());
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      ++hits_;
      lru_.splice(lru_.begin(), lru_, it->second.position);
      return it->second.embedding;
    }
    ++misses_;
  }
  RgbImage rgb;
  try {
    rgb = decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  } catch (const ImageError& e) {
    throw invalid_argument(e.what(), "invalid_image");
  }
  std::shared_ptr<const ImageEmbedding> embedding;
  {
    std::lock_guard<std::mutex> lock(encode_mutex_);
    Compute c{&pool_, &best_kernels(), &scratch_};
    embedding = std::make_shared<const ImageEmbedding>(encoder_.encode(c, encoder_.preprocess(rgb)));
  }
  const size_t size = embedding->data.size() * sizeof(float);
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (size <= cache_capacity_ && !cache_.count(key)) {
    lru_.push_front(key);
    cache_[key] = {embedding, lru_.begin()};
    cache_bytes_ += size;
    while (cache_bytes_ > cache_capacity_) {
      auto victim = cache_.find(lru_.back());
      cache_bytes_ -= victim->second.embedding->data.size() * sizeof(float);
      cache_.erase(victim);
      lru_.pop_back();
    }
  }
  return embedding;
}

ImageCacheStats ImageEncoder::stats() const {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  return {hits_, misses_, static_cast<int64_t>(cache_.size()), cache_bytes_};
}

}  // namespace fm
