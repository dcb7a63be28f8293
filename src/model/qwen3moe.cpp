// The `qwen3moe` family (Qwen3-30B-A3B, Qwen3-235B-A22B): qwen3 attention (per-head q/k RMSNorm, RoPE NEOX)
// and in every layer a mixture of experts: softmax router, top-k experts with renormalised weights, SwiGLU
// expert FFNs computed only for the tokens routed to them.
#include <cmath>
#include <optional>

#include "gguf/gguf_file.h"
#include "model/kv_cache.h"
#include "model/layer_weights.h"
#include "model/registry.h"

namespace fm {
namespace {

class Qwen3MoeModel final : public Model {
 public:
  explicit Qwen3MoeModel(const GgufFile& file) : binder_(file) {
    hp_ = read_decoder_hparams(file, "qwen3moe", RopeLayout::kHalfSplit);
    io_ = bind_io(binder_, hp_);
    rope_.emplace(hp_.rope_layout, hp_.n_rot, hp_.head_dim, hp_.rope_base, hp_.rope_scaling);
    for (int64_t l = 0; l < hp_.n_layer; ++l)
      layers_.push_back({bind_attention(binder_, hp_, l, {.qk_norm = true}), bind_moe(binder_, hp_, l)});
  }

  void forward(const Compute& base, ForwardState& st, Batch& batch, float* logits) const override {
    check_batch(hp_, st, batch);
    const Compute c = batch_compute(base, batch);
    const int64_t n = batch.n_tokens();
    const AttentionOptions attn{&*rope_, 1.f, 1.f / std::sqrt(static_cast<float>(hp_.head_dim)), 0};
    embed_batch(c, hp_, io_.tok_embd, batch, 1.f, st);
    for (int64_t l = 0; l < hp_.n_layer; ++l) {
      attention_block(c, hp_, layers_[l].attn, attn, st, batch, l);
      moe_block(c, hp_, layers_[l].moe, st, n);
    }
    commit_batch(batch);
    output_logits(c, hp_, io_.output_norm, io_.output, st, batch, logits);
  }

 private:
  struct Layer {
    AttentionWeights attn;
    MoeWeights moe;
  };
  WeightBinder binder_;
  IoWeights io_;
  std::optional<Rope> rope_;
  std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_qwen3moe_model(const GgufFile& file) { return std::make_unique<Qwen3MoeModel>(file); }

}  // namespace fm
