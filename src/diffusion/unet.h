#pragma once
// The Stable Diffusion 1.x / 2.x UNet (LDM's openaimodel): a timestep embedding, input blocks of ResBlocks and
// SpatialTransformers with strided-convolution downsampling, a middle block, and output blocks that take the
// input blocks' outputs back as skip connections (concatenated on channels) with nearest-neighbour upsampling.
#include <cstdint>
#include <vector>

#include "diffusion/nn.h"
#include "diffusion/sd_config.h"

namespace fm {

class Unet {
 public:
  Unet(const UnetConfig& config, DiffusionWeights& w);
  // x: the scaled latent [h * w, in_channels]; context: [n_ctx, context_dim]. Returns the model output
  // [h * w, out_channels] (eps or v, as the model predicts).
  FeatureMap forward(const Compute& c, const FeatureMap& x, float timestep, const float* context, int64_t n_ctx) const;

 private:
  struct ResBlock {
    Norm in_norm;       // [c_in]
    Conv2d in_conv;     // 3x3, c_in -> c_out
    Linear emb;         // [c_out, time_embed_dim]
    Norm out_norm;      // [c_out]
    Conv2d out_conv;    // 3x3, c_out -> c_out
    Conv2d skip;        // 1x1, c_in -> c_out, when the widths differ
    bool has_skip = false;
  };
  struct Attention {
    Linear q, k, v;     // [c, c] and [c, kv_width], no biases
    Linear out;         // [c, c]
  };
  struct Transformer {
    Norm norm;          // GroupNorm [c]
    Conv2d proj_in, proj_out;  // SD 1.x: 1x1, c -> c
    Linear proj_in_linear, proj_out_linear;  // SD 2.x: [c, c]
    bool linear_projection = false;
    Norm norm1, norm2, norm3;  // LayerNorms [c]
    Attention self_attn, cross_attn;
    Linear ff_in;       // [8c, c]: value half, then gate half (GEGLU)
    Linear ff_out;      // [c, 4c]
    int64_t n_head = 8;
  };
  enum class Kind { kConv, kRes, kTransformer, kUpsample };
  struct Module {
    Kind kind;
    Conv2d conv;  // kConv (input conv, strided downsampling) and kUpsample
    ResBlock res;
    Transformer transformer;
  };
  using Block = std::vector<Module>;

  struct Scratch;
  void run_block(const Compute& c, const Block& block, FeatureMap& h, const float* emb, const float* context,
                 int64_t n_ctx, Scratch& s) const;
  void res_block(const Compute& c, const ResBlock& r, FeatureMap& h, const float* emb, Scratch& s) const;
  void transformer(const Compute& c, const Transformer& t, FeatureMap& h, const float* context, int64_t n_ctx,
                   Scratch& s) const;

  UnetConfig config_;
  Linear time_embed_0_, time_embed_2_;  // [T, model_channels], [T, T]
  std::vector<Block> input_blocks_, output_blocks_;
  Block middle_block_;
  Norm out_norm_;                       // [model_channels]
  Conv2d out_conv_;                     // 3x3, model_channels -> out_channels
};

}  // namespace fm
