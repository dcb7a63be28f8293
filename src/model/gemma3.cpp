// The `gemma3` family (Gemma 3 text, 1B-27B): embeddings scaled by sqrt(n_embd); per layer
// x += post_norm(attn(norm(x))), x += post_norm(geglu_ffn(norm(x))); per-head q/k RMSNorm; five sliding-window
// layers (local RoPE base 10000) then one global layer (the file's RoPE base and scaling), repeating.
// Sliding-window layers keep only window + batch - 1 KV rows.
#include <algorithm>
#include <cmath>
#include <optional>

#include "gguf/gguf_file.h"
#include "model/kv_cache.h"
#include "model/layer_weights.h"
#include "model/registry.h"

namespace fm {
namespace {

constexpr int64_t kSwaPattern = 6;  // llama.cpp's gemma3 layout: layers with l % 6 < 5 use the sliding window

class Gemma3Model final : public Model {
 public:
  explicit Gemma3Model(const GgufFile& file) : binder_(file) {
    hp_ = read_decoder_hparams(file, "gemma3", RopeLayout::kHalfSplit);
    window_ = file.get_int("gemma3.attention.sliding_window");
    if (window_ <= 0 || window_ > (1 << 24)) throw GgufError("gemma3.attention.sliding_window is out of range");
    io_ = bind_io(binder_, hp_);
    const float local_base = static_cast<float>(file.get_float_or("gemma3.rope.freq_base_swa", 10000.0));
    local_rope_.emplace(hp_.rope_layout, hp_.n_rot, hp_.head_dim, local_base);
    global_rope_.emplace(hp_.rope_layout, hp_.n_rot, hp_.head_dim, hp_.rope_base, hp_.rope_scaling);
    // Query scale: 1/sqrt(head_dim), except 27B (62 layers) which uses 1/sqrt(n_embd / n_head) as Gemma's reference.
    const float scaled_dim = hp_.n_layer == 62 ? static_cast<float>(hp_.n_embd / hp_.n_head) : static_cast<float>(hp_.head_dim);
    q_scale_ = 1.f / std::sqrt(scaled_dim);
    const AttentionLayout attn{.qk_norm = true, .post_norm = true};
    const FfnLayout ffn{.post_norm = true};
    for (int64_t l = 0; l < hp_.n_layer; ++l)
      layers_.push_back({bind_attention(binder_, hp_, l, attn), bind_ffn(binder_, hp_, l, ffn)});
  }

  void forward(const Compute& base, ForwardState& st, Batch& batch, float* logits) const override {
    check_batch(hp_, st, batch);
    const Compute c = batch_compute(base, batch);
    const int64_t n = batch.n_tokens();
    embed_batch(c, hp_, io_.tok_embd, batch, std::sqrt(static_cast<float>(hp_.n_embd)), st);
    for (int64_t l = 0; l < hp_.n_layer; ++l) {
      const AttentionOptions attn = sliding(l) ? AttentionOptions{&*local_rope_, q_scale_, 1.f, window_}
                                               : AttentionOptions{&*global_rope_, q_scale_, 1.f, 0};
      attention_block(c, hp_, layers_[l].attn, attn, st, batch, l);
      ffn_block(c, hp_, layers_[l].ffn, FfnActivation::kGeluTanh, st, n);
    }
    commit_batch(batch);
    output_logits(c, hp_, io_.output_norm, io_.output, st, batch, logits);
  }

  std::vector<int64_t> kv_layer_rows(int64_t n_ctx, int64_t max_batch) const override {
    std::vector<int64_t> rows(static_cast<size_t>(hp_.n_layer), n_ctx);
    for (int64_t l = 0; l < hp_.n_layer; ++l)
      if (sliding(l)) rows[l] = std::min(n_ctx, window_ + max_batch - 1);
    return rows;
  }

 private:
  static bool sliding(int64_t layer) { return layer % kSwaPattern < kSwaPattern - 1; }

  struct Layer {
    AttentionWeights attn;
    FfnWeights ffn;
  };
  WeightBinder binder_;
  IoWeights io_;
  int64_t window_ = 0;
  float q_scale_ = 1.f;
  std::optional<Rope> local_rope_, global_rope_;
  std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_gemma3_model(const GgufFile& file) { return std::make_unique<Gemma3Model>(file); }

}  // namespace fm
