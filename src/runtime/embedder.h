#pragma once
// Sequence embeddings: the hidden states after a model's final norm, pooled over a sequence (mean, last, or the
// first position). The Embedder batches requests as the scheduler batches generation: whole inputs packed into
// one forward pass up to max_batch_tokens, each input with a cache of its own length that is freed at once.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gguf/tensor_type.h"

namespace fm {

class Model;
class ThreadPool;

enum class Pooling { kMean, kLast, kCls };
const char* pooling_name(Pooling p);
bool parse_pooling(const std::string& name, Pooling* out);

struct EmbeddingOptions {
  Pooling pooling = Pooling::kMean;
  bool causal = true;      // false: bidirectional attention over the input
  bool normalize = false;  // L2-normalise the pooled vector
};

// What a model file says about its embeddings (llama.cpp's keys): `<arch>.pooling_type` (1 mean, 2 cls, 3 last;
// absent or 0: mean) and `<arch>.attention.causal` (absent: true).
class GgufFile;
EmbeddingOptions embedding_defaults(const GgufFile& file);

// Pools hidden: [n, width] into out: [width].
void pool_hidden(const float* hidden, int64_t n, int64_t width, Pooling pooling, float* out);
// x / ||x||_2 with the sum and the factor in double, as llama-embedding does; a zero vector stays zero.
void l2_normalize(float* x, int64_t n);

struct EmbedderOptions {
  int64_t max_input = 512;         // longest input in tokens
  int64_t max_batch_tokens = 512;  // tokens per forward pass (at least max_input)
  int max_queue = 1024;            // waiting inputs beyond which submit() refuses
  TensorType kv_type = TensorType::F16;
  int threads = 0;                 // 0 = every core
};

class Embedder {
 public:
  Embedder(const Model& model, const EmbedderOptions& options);
  ~Embedder();  // stop()
  Embedder(const Embedder&) = delete;
  Embedder& operator=(const Embedder&) = delete;

  // out: the pooled embedding [n_embd], or empty when the pass failed or the embedder stopped.
  using Done = std::function<void(std::vector<float> embedding)>;
  enum class Admission { kQueued, kQueueFull, kTooLong };
  Admission submit(std::vector<int32_t> tokens, const EmbeddingOptions& options, Done done);
  // Every input of `inputs` in one call (packed into as few passes as fit): the embeddings in input order.
  // Throws std::runtime_error when an input is too long or the pass fails. Used by the CLI and tests.
  std::vector<std::vector<float>> embed_all(const std::vector<std::vector<int32_t>>& inputs, const EmbeddingOptions& options);
  void stop();
  struct Stats {
    int64_t queued = 0, running = 0;  // inputs waiting, inputs in the pass under way
  };
  Stats stats() const;
  const EmbedderOptions& options() const { return options_; }
  int64_t width() const;

 private:
  struct Impl;
  EmbedderOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fm
