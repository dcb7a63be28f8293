#pragma once
// The AutoencoderKL decoder of Stable Diffusion: post_quant_conv, conv_in, a middle block (ResNet, single-head
// self-attention over all pixels, ResNet), then per level (widest first) ResNet blocks and nearest-neighbour
// upsampling, GroupNorm + SiLU and conv_out to RGB in [-1, 1] (before clamping).
#include <cstdint>
#include <vector>

#include "diffusion/nn.h"
#include "diffusion/sd_config.h"

namespace fm {

class VaeDecoder {
 public:
  VaeDecoder(const VaeConfig& config, DiffusionWeights& w);
  // z: the latent already divided by the model's latent scale, [h * w, z_channels]. Returns [8h * 8w, 3].
  FeatureMap decode(const Compute& c, const FeatureMap& z) const;

 private:
  struct ResBlock {
    Norm norm1, norm2;       // [c_in], [c_out]
    Conv2d conv1, conv2;     // 3x3
    Conv2d shortcut;         // 1x1 when the widths differ
    bool has_shortcut = false;
  };
  struct Level {
    std::vector<ResBlock> blocks;
    Conv2d upsample;         // 3x3 after the 2x nearest upsampling
    bool has_upsample = false;
  };
  struct Scratch {
    FeatureMap a, b;
    std::vector<float> q, k, v, att;
    NnScratch nn;
  };
  void res_block(const Compute& c, const ResBlock& r, FeatureMap& h, Scratch& s) const;
  void attention(const Compute& c, FeatureMap& h, Scratch& s) const;

  VaeConfig config_;
  Conv2d post_quant_conv_, conv_in_, conv_out_;
  ResBlock mid_1_, mid_2_;
  Norm attn_norm_;                    // [c]
  Conv2d attn_q_, attn_k_, attn_v_, attn_out_;  // 1x1, c -> c
  std::vector<Level> levels_;         // widest (lowest resolution) first
  Norm norm_out_;
};

}  // namespace fm
