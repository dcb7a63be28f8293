#pragma once
// The Stable Diffusion 1.x / 2.x network family: hyperparameters of the three networks (CLIP text encoder, UNet,
// VAE) and the full tensor list of a single-file checkpoint under the original LDM names, in file order.
#include <cstdint>
#include <string>
#include <vector>

namespace fm {

struct ClipTextConfig {
  int64_t n_layer = 12, width = 768, n_head = 12, n_ff = 3072, vocab = 49408, n_pos = 77;
};

struct UnetConfig {
  int64_t in_channels = 4, out_channels = 4, model_channels = 320;
  std::vector<int64_t> channel_mult{1, 2, 4, 4};
  std::vector<bool> attention_at_level{true, true, true, false};
  int64_t n_res = 2;          // res blocks per level on the way down (one more on the way up)
  int64_t n_head = 8;         // SD 1.x: a fixed head count at every width
  int64_t context_dim = 768;  // cross-attention key/value width (the text encoder's)
  int64_t time_embed_dim() const { return model_channels * 4; }
};

struct VaeConfig {
  int64_t channels = 128;  // decoder base width
  std::vector<int64_t> channel_mult{1, 2, 4, 4};
  int64_t n_res = 2;  // res blocks per level (the decoder has one more per level)
  int64_t z_channels = 4;
  int64_t encoder_channels = 128;  // the encoder's base width (only stored: txt2img does not run it)
};

enum class Prediction { kEps, kV };

struct SdConfig {
  std::string name;
  ClipTextConfig clip;
  UnetConfig unet;
  VaeConfig vae;
  Prediction prediction = Prediction::kEps;
  float latent_scale = 0.18215f;  // latents are divided by this before decoding
  int64_t native_size = 512;      // the side the model was trained at
};

// Known shapes: "sd1.5" (the real SD 1.5 sizes) and "sd1-fixture" (the reduced widths of the image-generation
// fixtures: UNet model_channels 32, VAE decoder 32, encoder 128, full-size CLIP).
SdConfig sd_config_named(const std::string& name);
std::vector<std::string> sd_config_names();

struct SdTensorSpec {
  std::string name;
  std::vector<int64_t> shape;  // PyTorch order, e.g. [c_out, c_in, kh, kw] for a convolution kernel
};

// Every tensor of a checkpoint of this configuration, in the order a single-file checkpoint stores them: text
// encoder, UNet, then the VAE (post_quant_conv, decoder, quant_conv, encoder).
std::vector<SdTensorSpec> sd_tensor_list(const SdConfig& config);

// Name prefixes of the three networks in LDM checkpoints.
inline constexpr const char* kClipPrefix = "cond_stage_model.transformer.text_model.";
inline constexpr const char* kUnetPrefix = "model.diffusion_model.";
inline constexpr const char* kVaePrefix = "first_stage_model.";

}  // namespace fm
