#include "diffusion/clip_text_encoder.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "model/blocks.h"
#include "tensor/kernels/kernel_table.h"

namespace fm {

void ClipTextEncoder::bind_open_clip(DiffusionWeights& w) {
  const std::string p = kOpenClipPrefix;
  const int64_t E = config_.width;
  token_embedding_ = w.matrix(p + "token_embedding.weight", {config_.vocab, E});
  position_embedding_ = w.values(p + "positional_embedding", {config_.n_pos, E});
  for (int64_t l = 0; l < config_.layers_run(); ++l) {  // the last layer's weights are stored but never used
    const std::string lp = p + "transformer.resblocks." + std::to_string(l) + ".";
    Layer layer;
    layer.ln1 = w.norm(lp + "ln_1", E);
    layer.ln2 = w.norm(lp + "ln_2", E);
    layer.qkv = w.linear_named(lp + "attn.in_proj_weight", lp + "attn.in_proj_bias", 3 * E, E);
    layer.out = w.linear(lp + "attn.out_proj", E, E);
    layer.fc1 = w.linear(lp + "mlp.c_fc", config_.n_ff, E);
    layer.fc2 = w.linear(lp + "mlp.c_proj", E, config_.n_ff);
    layers_.push_back(layer);
  }
  final_norm_ = w.norm(p + "ln_final", E);
}

ClipTextEncoder::ClipTextEncoder(const ClipTextConfig& config, DiffusionWeights& w) : config_(config) {
  if (config.open_clip()) {
    bind_open_clip(w);
    return;
  }
  const std::string p = kClipPrefix;
  const int64_t E = config.width;
  token_embedding_ = w.matrix(p + "embeddings.token_embedding.weight", {config.vocab, E});
  position_embedding_ = w.values(p + "embeddings.position_embedding.weight", {config.n_pos, E});
  for (int64_t l = 0; l < config.n_layer; ++l) {
    const std::string lp = p + "encoder.layers." + std::to_string(l) + ".";
    Layer layer;
    layer.ln1 = w.norm(lp + "layer_norm1", E);
    layer.ln2 = w.norm(lp + "layer_norm2", E);
    layer.q = w.linear(lp + "self_attn.q_proj", E, E);
    layer.k = w.linear(lp + "self_attn.k_proj", E, E);
    layer.v = w.linear(lp + "self_attn.v_proj", E, E);
    layer.out = w.linear(lp + "self_attn.out_proj", E, E);
    layer.fc1 = w.linear(lp + "mlp.fc1", config.n_ff, E);
    layer.fc2 = w.linear(lp + "mlp.fc2", E, config.n_ff);
    layers_.push_back(layer);
  }
  final_norm_ = w.norm(p + "final_layer_norm", E);
}

std::vector<float> ClipTextEncoder::encode(const Compute& c, const std::vector<int32_t>& tokens) const {
  const int64_t n = static_cast<int64_t>(tokens.size()), E = config_.width;
  if (n == 0 || n > config_.n_pos)
    throw std::invalid_argument("the text encoder takes 1 to " + std::to_string(config_.n_pos) + " tokens");
  std::vector<float> x(static_cast<size_t>(n * E)), h(x.size()), q(x.size()), k(x.size()), v(x.size()), att(x.size());
  std::vector<float> ff(static_cast<size_t>(n * config_.n_ff)), qkv;
  for (int64_t t = 0; t < n; ++t) {
    const int32_t id = tokens[static_cast<size_t>(t)];
    if (id < 0 || id >= config_.vocab) throw std::invalid_argument("token id " + std::to_string(id) + " out of range");
    dequantize_row(*c.kernels, token_embedding_, id, x.data() + t * E);
    add_inplace(x.data() + t * E, position_embedding_ + t * E, E);
  }
  NnScratch s;
  constexpr float kEps = 1e-5f;
  for (const Layer& l : layers_) {
    layer_norm(x.data(), l.ln1.w, l.ln1.b, n, E, kEps, h.data());
    if (config_.open_clip()) {
      qkv.resize(static_cast<size_t>(n * 3 * E));
      linear(c, l.qkv, h.data(), n, qkv.data());
      for (int64_t t = 0; t < n; ++t) {
        const float* row = qkv.data() + t * 3 * E;
        std::copy(row, row + E, q.data() + t * E);
        std::copy(row + E, row + 2 * E, k.data() + t * E);
        std::copy(row + 2 * E, row + 3 * E, v.data() + t * E);
      }
    } else {
      linear(c, l.q, h.data(), n, q.data());
      linear(c, l.k, h.data(), n, k.data());
      linear(c, l.v, h.data(), n, v.data());
    }
    multi_head_attention(c, q.data(), n, k.data(), v.data(), n, config_.n_head, E / config_.n_head, true, att.data(), s);
    linear(c, l.out, att.data(), n, h.data());
    add_inplace(x.data(), h.data(), n * E);
    layer_norm(x.data(), l.ln2.w, l.ln2.b, n, E, kEps, h.data());
    linear(c, l.fc1, h.data(), n, ff.data());
    if (config_.open_clip()) c.kernels->gelu(ff.data(), n * config_.n_ff, ff.data());
    else quick_gelu_inplace(ff.data(), n * config_.n_ff);
    linear(c, l.fc2, ff.data(), n, h.data());
    add_inplace(x.data(), h.data(), n * E);
  }
  layer_norm(x.data(), final_norm_.w, final_norm_.b, n, E, kEps, x.data());
  return x;
}

}  // namespace fm
