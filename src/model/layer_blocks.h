#pragma once
// Layer-level building blocks shared by the decoder families: each takes the residual stream in
// ForwardState::x and adds its contribution. A family file only binds weights and chooses options.
#include <cstdint>
#include <optional>
#include <vector>

#include "model/blocks.h"
#include "model/hparams.h"
#include "model/model.h"
#include "tensor/matmul.h"

namespace fm {

class KvCache;

struct AttentionWeights {
  const float* norm = nullptr;                              // [n_embd] pre-attention RMSNorm gain
  MatrixView wq, wk, wv;                                    // [q_dim | kv_dim | v_dim, n_embd]
  std::optional<MatrixView> wqkv;                           // fused rows Q|K|V (phi3), replaces wq/wk/wv
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr;  // projection biases (qwen2)
  const float *q_norm = nullptr, *k_norm = nullptr;         // [head_dim] per-head RMSNorm before RoPE
  MatrixView wo;                                            // [n_embd, n_head * head_dim_v]
  const float* post_norm = nullptr;                         // [n_embd] RMSNorm of the block output (gemma3)
};

struct AttentionOptions {
  const Rope* rope = nullptr;
  float q_scale = 1.f;   // multiplies Q after RoPE (families that pre-scale queries)
  float kq_scale = 1.f;  // multiplies q.k inside the softmax
  int64_t window = 0;    // sliding window; 0 = full causal
};

enum class FfnActivation { kSilu, kGeluTanh };

struct FfnWeights {
  const float* norm = nullptr;      // [n_embd]
  MatrixView gate, up, down;        // [n_ff, n_embd], [n_ff, n_embd], [n_embd, n_ff]
  std::optional<MatrixView> gate_up;  // fused rows gate|up (phi3), replaces gate/up
  const float* post_norm = nullptr;   // [n_embd] (gemma3)
};

struct MoeWeights {
  const float* norm = nullptr;        // [n_embd]
  MatrixView router;                  // [n_expert, n_embd]
  std::vector<MatrixView> gate, up;   // per expert [n_ff_exp, n_embd]
  std::vector<MatrixView> down;       // per expert [n_embd, n_ff_exp]
};

// x[t] = token_embd[tokens[t]] * scale
void embed_tokens(const Compute& c, const HParams& hp, const MatrixView& tok_embd, const int32_t* tokens, int64_t n,
                  float scale, ForwardState& st);

// embed_tokens over the batch, then the rows of image slices replaced by their embeddings (unscaled).
void embed_batch(const Compute& c, const HParams& hp, const MatrixView& tok_embd, const Batch& batch, float scale,
                 ForwardState& st);

// x += attention(norm(x)); stores each sequence's keys/values in layer `layer` of its cache.
void attention_block(const Compute& c, const HParams& hp, const AttentionWeights& w, const AttentionOptions& opt,
                     ForwardState& st, const Batch& batch, int64_t layer);

// x += down(act(gate . norm(x)) * up . norm(x))
void ffn_block(const Compute& c, const HParams& hp, const FfnWeights& w, FfnActivation act, ForwardState& st, int64_t n);

// x += sum over the top n_expert_used experts of softmax(router) (weights renormalised) of expert SwiGLU FFNs;
// tokens are grouped by expert so each expert's weights are read once per batch.
void moe_block(const Compute& c, const HParams& hp, const MoeWeights& w, ForwardState& st, int64_t n);

// logits = output . norm(x) for the batch's logit rows: [logit_rows, n_vocab].
void output_logits(const Compute& c, const HParams& hp, const float* norm, const MatrixView& output, ForwardState& st,
                   const Batch& batch, float* logits);

// Checks a batch against the state and caches before a forward pass; throws with a clear message.
void check_batch(const HParams& hp, const ForwardState& st, const Batch& batch);

// The compute context of a forward pass over `batch`: its products know which leading rows are decode tokens.
Compute batch_compute(const Compute& c, const Batch& batch);
// Marks the batch's tokens as stored in their caches (after the last layer).
void commit_batch(const Batch& batch);

}  // namespace fm
