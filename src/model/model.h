#pragma once
// The interface every architecture family implements. A model is immutable after loading and may serve
// many sequences; per-sequence state lives in KvCache and ForwardState.
#include <cstdint>
#include <memory>
#include <vector>

#include "model/batch.h"
#include "model/hparams.h"
#include "tensor/matmul.h"

namespace fm {

class GgufFile;
class KvCache;

// Scratch memory for one forward pass of up to max_tokens tokens; allocated once, reused every step.
struct ForwardState {
  ForwardState(const HParams& hp, int64_t max_tokens, int64_t n_ctx, int n_threads);

  int64_t max_tokens;
  int64_t n_ctx;              // largest cache a batch may use (sizes the attention scratch)
  std::vector<float> x;       // [max_tokens, n_embd] residual stream
  std::vector<float> h;       // [max_tokens, n_embd] normed input of a block
  std::vector<float> q;       // [max_tokens, q_dim]
  std::vector<float> k;       // [max_tokens, kv_dim]
  std::vector<float> v;       // [max_tokens, v_dim]
  std::vector<float> att;     // [max_tokens, n_head * head_dim_v]
  std::vector<float> qkv;     // [max_tokens, q_dim + kv_dim + v_dim] fused projection output
  std::vector<float> ffn_a;   // [max_tokens * n_used, max(n_ff, n_ff_exp)]
  std::vector<float> ffn_b;   // [max_tokens * n_used, 2 * max(n_ff, n_ff_exp)] (fused gate|up)
  std::vector<float> scores;  // [n_threads, attention_scratch_floats] attention weights
  // Mixture of experts (empty for dense models).
  std::vector<float> router;            // [max_tokens, n_expert]
  std::vector<int32_t> expert_ids;      // [max_tokens, n_expert_used]
  std::vector<float> expert_weights;    // [max_tokens, n_expert_used]
  std::vector<int32_t> expert_tokens;   // [max_tokens * n_expert_used]
  std::vector<float> moe_in;            // [max_tokens * n_expert_used, n_embd] gathered rows
  std::vector<float> moe_out;           // [max_tokens, n_embd]
  ScratchBuffer act;                    // activations converted for the matmul kernels
};

class Model {
 public:
  virtual ~Model() = default;
  const HParams& hparams() const { return hp_; }

  // Evaluates a batch: each sequence's tokens continue its KV cache (which they are appended to).
  // logits: [batch.logit_rows.size(), n_vocab], or the final-norm hidden states [rows, n_embd] when
  // batch.output_hidden is set (embeddings).
  virtual void forward(const Compute& c, ForwardState& state, Batch& batch, float* logits) const = 0;

  // Encoders attend within one input and keep no cache between calls: their keys and values stay in f32 (as in
  // llama.cpp, which gives encoders no KV cache), whatever cache type decoders use.
  virtual bool is_encoder() const { return false; }

  // KV rows each layer needs for a context of n_ctx evaluated max_batch tokens at a time; empty = n_ctx for all.
  // Sliding-window layers need only window + max_batch - 1.
  virtual std::vector<int64_t> kv_layer_rows(int64_t /*n_ctx*/, int64_t /*max_batch*/) const { return {}; }

 protected:
  HParams hp_;
};

// Loads the family named by general.architecture (see registry.cpp). The file must outlive the model.
std::unique_ptr<Model> load_model(const GgufFile& file);
// Architectures this build can run.
std::vector<std::string> supported_architectures();

}  // namespace fm
