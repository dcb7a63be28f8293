#pragma once
// The CLIP text transformer of Stable Diffusion 1.x (ViT-L/14's text tower): token + learned position embeddings,
// pre-LN layers with causal self-attention and a quick-GELU MLP, then the final LayerNorm (clip_skip 1).
#include <cstdint>
#include <vector>

#include "diffusion/nn.h"
#include "diffusion/sd_config.h"

namespace fm {

class ClipTextEncoder {
 public:
  ClipTextEncoder(const ClipTextConfig& config, DiffusionWeights& w);
  // tokens: [n_pos] ids (BOS, text, EOS, EOS padding). Returns the conditioning [n_pos, width].
  std::vector<float> encode(const Compute& c, const std::vector<int32_t>& tokens) const;
  const ClipTextConfig& config() const { return config_; }

 private:
  struct Layer {
    Norm ln1, ln2;                     // [width]
    Linear q, k, v, out;               // [width, width]
    Linear fc1, fc2;                   // [n_ff, width], [width, n_ff]
  };
  ClipTextConfig config_;
  MatrixView token_embedding_;         // [vocab, width]
  const float* position_embedding_;    // [n_pos, width]
  std::vector<Layer> layers_;
  Norm final_norm_;                    // [width]
};

}  // namespace fm
