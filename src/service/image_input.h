#pragma once
// A vision model's images, from the URLs clients send to embeddings: fetched (image_fetch), decoded, preprocessed
// and encoded once per distinct content (an LRU cache of embeddings keyed by the bytes' SHA-256, bounded in bytes).
// Bad images are refused with a 400 that says what is wrong.
#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "service/model_registry.h"
#include "tensor/matmul.h"
#include "tensor/thread_pool.h"
#include "vision/vision_encoder.h"

namespace fm {

struct ImageCacheStats {
  int64_t hits = 0, misses = 0, entries = 0;
  size_t bytes = 0;
};

class ImageEncoder {
 public:
  ImageEncoder(const VisionEncoder& encoder, int threads, const ImageFetchConfig& fetch);

  // Throws ServiceError (invalid argument) for a URL or image it cannot use. Encodes one image at a time.
  std::shared_ptr<const ImageEmbedding> encode(const std::string& url);
  // The image tokens of an image, from its bytes (decoded but not encoded): to check the context first.
  const VisionEncoder& encoder() const { return encoder_; }
  ImageCacheStats stats() const;

 private:
  std::shared_ptr<const ImageEmbedding> encode_bytes(const std::string& bytes);

  const VisionEncoder& encoder_;
  ImageFetchConfig fetch_;
  ThreadPool pool_;
  ScratchBuffer scratch_;
  std::mutex encode_mutex_;  // one encoding at a time on pool_

  mutable std::mutex cache_mutex_;
  size_t cache_capacity_, cache_bytes_ = 0;
  std::list<std::string> lru_;  // most recently used first
  struct Entry {
    std::shared_ptr<const ImageEmbedding> embedding;
    std::list<std::string>::iterator position;
  };
  std::unordered_map<std::string, Entry> cache_;
  int64_t hits_ = 0, misses_ = 0;
};

}  // namespace fm
