#pragma once
// The CLIP text transformers of Stable Diffusion: token + learned position embeddings, pre-LN layers with causal
// self-attention and an MLP, then the final LayerNorm. SD 1.x: OpenAI's ViT-L/14 tower, quick GELU, every layer
// (clip_skip 1). SD 2.x: OpenCLIP's ViT-H/14 tower, GELU, all but the last layer (clip_skip 2), read from open_clip's
// names with the fused q/k/v projection.
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
    Linear qkv;                        // OpenCLIP: [3 * width, width], q, k then v rows
    Linear fc1, fc2;                   // [n_ff, width], [width, n_ff]
  };
  void bind_open_clip(DiffusionWeights& w);
  ClipTextConfig config_;
  MatrixView token_embedding_;         // [vocab, width]
  const float* position_embedding_;    // [n_pos, width]
  std::vector<Layer> layers_;
  Norm final_norm_;                    // [width]
};

}  // namespace fm
