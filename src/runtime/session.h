#pragma once
// One sequence being evaluated by a model: its KV cache and scratch, fed a chunk of tokens at a time.
#include <cstdint>
#include <memory>
#include <vector>

#include "model/kv_cache.h"
#include "model/model.h"
#include "tensor/matmul.h"

namespace fm {

class ThreadPool;

class Session {
 public:
  // n_ctx: positions the cache holds; max_batch: tokens evaluated per forward pass (longer inputs are split);
  // kv_type: F16 (default, as llama.cpp) or F32.
  Session(const Model& model, int64_t n_ctx, int64_t max_batch, ThreadPool& pool,
          TensorType kv_type = TensorType::F16);

  // Appends tokens and returns the logits after the last one: [n_vocab], valid until the next call.
  const float* eval(const int32_t* tokens, int64_t n);
  // Appends tokens and writes the logits after each of them to out: [n, n_vocab].
  void eval_all(const int32_t* tokens, int64_t n, float* out);
  // Appends an image's embeddings [n, n_embd] as one non-causal block (grid_nx: M-RoPE layout, 0 = none) and
  // writes the logits after each of its rows to out ([n, n_vocab], may be null). n may exceed max_batch.
  void eval_image(const float* embd, int64_t n, int64_t grid_nx, float* out);
  // Appends the token just sampled from the last logits (a decode step) and returns the logits after it. Unlike
  // eval() of one token, this takes the decode kernels, as the scheduler does for its decode tokens.
  const float* decode(int32_t token);

  const float* last_logits() const { return last_logits_.data(); }  // after the last row evaluated
  int64_t n_past() const { return cache_.n_used(); }
  int64_t n_ctx() const { return cache_.n_ctx(); }
  int64_t n_vocab() const { return model_.hparams().n_vocab; }
  void reset() { cache_.clear(); }
  size_t kv_cache_bytes() const { return cache_.bytes(); }
  // Stage timings of the following passes go to `profile` (null: none); `fmserve bench --profile`.
  void set_profile(StageProfile* profile) { compute_.profile = profile; }

 private:
  const Model& model_;
  KvCache cache_;
  ForwardState state_;
  std::unique_ptr<ForwardState> image_state_;  // for an image larger than max_batch
  Compute compute_;
  Batch batch_;                     // reused: the decode loop allocates nothing
  std::vector<float> last_logits_;  // [n_vocab]
};

}  // namespace fm
