#include "model/dense_decoder.h"

#include <cmath>
#include <stdexcept>

#include "gguf/gguf_file.h"
#include "model/kv_cache.h"

namespace fm {
namespace {

class DenseDecoder final : public Model {
 public:
  DenseDecoder(const GgufFile& file, const DenseDecoderSpec& spec) : spec_(spec), binder_(file) {
    hp_ = read_decoder_hparams(file, spec.arch, spec.rope_layout);
    io_ = bind_io(binder_, hp_);
    const float* factors = spec.freq_factors ? binder_.optional_vector(spec.freq_factors, hp_.n_rot / 2) : nullptr;
    rope_.emplace(hp_.rope_layout, hp_.n_rot, hp_.head_dim, hp_.rope_base, hp_.rope_scaling, factors);
    if (!spec.mrope_sections.empty()) {
      try {
        rope_->set_sections(spec.mrope_sections);
      } catch (const std::invalid_argument& e) {
        throw GgufError(spec.arch + ".rope.dimension_sections: " + e.what());
      }
    }
    for (int64_t l = 0; l < hp_.n_layer; ++l)
      layers_.push_back({bind_attention(binder_, hp_, l, spec.attention), bind_ffn(binder_, hp_, l, spec.ffn)});
    const float scale = 1.f / std::sqrt(static_cast<float>(hp_.head_dim));
    attention_ = spec.prescale_q ? AttentionOptions{&*rope_, scale, 1.f, 0} : AttentionOptions{&*rope_, 1.f, scale, 0};
  }

  void forward(const Compute& base, ForwardState& st, Batch& batch, float* logits) const override {
    check_batch(hp_, st, batch);
    const Compute c = batch_compute(base, batch);
    const int64_t n = batch.n_tokens();
    embed_batch(c, hp_, io_.tok_embd, batch, 1.f, st);
    for (int64_t l = 0; l < hp_.n_layer; ++l) {
      attention_block(c, hp_, layers_[l].attn, attention_, st, batch, l);
      ffn_block(c, hp_, layers_[l].ffn, spec_.activation, st, n);
    }
    commit_batch(batch);
    output_logits(c, hp_, io_.output_norm, io_.output, st, batch, logits);
  }

 private:
  struct Layer {
    AttentionWeights attn;
    FfnWeights ffn;
  };
  DenseDecoderSpec spec_;
  WeightBinder binder_;
  IoWeights io_;
  std::optional<Rope> rope_;
  AttentionOptions attention_;
  std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_dense_decoder(const GgufFile& file, const DenseDecoderSpec& spec) {
  return std::make_unique<DenseDecoder>(file, spec);
}

}  // namespace fm
