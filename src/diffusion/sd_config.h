#pragma once
// The Stable Diffusion 1.x / 2.x network family: hyperparameters of the three networks (CLIP text encoder, UNet,
// VAE) and the full tensor list of a single-file checkpoint under the original LDM names, in file order.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fm {

// SD 1.x conditions on OpenAI's CLIP ViT-L/14 text tower (quick GELU, the last layer's output, EOS padding); SD 2.x
// on OpenCLIP's ViT-H/14 (GELU, the penultimate layer's output, zero padding), which LDM checkpoints store under
// open_clip's own names with fused q/k/v projections.
enum class TextEncoderKind { kOpenAiClip, kOpenClip };

struct ClipTextConfig {
  TextEncoderKind kind = TextEncoderKind::kOpenAiClip;
  int64_t n_layer = 12, width = 768, n_head = 12, n_ff = 3072, vocab = 49408, n_pos = 77;
  bool open_clip() const { return kind == TextEncoderKind::kOpenClip; }
  int64_t layers_run() const { return open_clip() ? n_layer - 1 : n_layer; }  // clip_skip 1 or 2, then final LN
  int32_t pad_token() const { return open_clip() ? 0 : -1; }                  // -1: pad with EOS
  // CLIP's vocabularies end with BOS (<|startoftext|>) and EOS (<|endoftext|>).
  int32_t bos_token() const { return static_cast<int32_t>(vocab - 2); }
  int32_t eos_token() const { return static_cast<int32_t>(vocab - 1); }
};

// The ids of the empty prompt over n_ids (whole windows): BOS, EOS, then padding.
std::vector<int32_t> empty_prompt_tokens(const ClipTextConfig& clip, size_t n_ids);

struct UnetConfig {
  int64_t in_channels = 4, out_channels = 4, model_channels = 320;
  std::vector<int64_t> channel_mult{1, 2, 4, 4};
  std::vector<bool> attention_at_level{true, true, true, false};
  int64_t n_res = 2;          // res blocks per level on the way down (one more on the way up)
  int64_t n_head = 8;         // SD 1.x: a fixed head count at every width
  int64_t head_dim = 0;       // SD 2.x: heads of this width (n_head = channels / head_dim) when above 0
  bool linear_projection = false;  // SD 2.x: a transformer's proj_in/proj_out are linear [c, c], not 1x1 convs
  int64_t context_dim = 768;  // cross-attention key/value width (the text encoder's)
  int64_t time_embed_dim() const { return model_channels * 4; }
  int64_t heads_at(int64_t channels) const { return head_dim > 0 ? channels / head_dim : n_head; }
};

struct VaeConfig {
  int64_t channels = 128;  // decoder base width
  std::vector<int64_t> channel_mult{1, 2, 4, 4};
  int64_t n_res = 2;  // res blocks per level (the decoder has one more per level)
  int64_t z_channels = 4;
  int64_t encoder_channels = 128;  // the encoder's base width (only stored: txt2img does not run it)
};

// kAuto: as stable-diffusion.cpp decides for SD 2.x, from the UNet's output on a constant input (see SdPipeline).
enum class Prediction { kEps, kV, kAuto };
std::optional<Prediction> prediction_from_name(const std::string& name);  // "eps", "v", "auto"

struct SdConfig {
  std::string name;
  ClipTextConfig clip;
  UnetConfig unet;
  VaeConfig vae;
  Prediction prediction = Prediction::kEps;
  float latent_scale = 0.18215f;  // latents are divided by this before decoding
  int64_t native_size = 512;      // the side the model was trained at
  // Synthetic test shapes only: the factor on the formula's cross-attention output projections (attn2.to_out.0),
  // so that a random-weight model's images depend strongly on the prompt and a wrong text encoder shows.
  float synth_cross_attention_gain = 1.f;
};

// Known shapes: "sd1.5" (the real SD 1.5 sizes), "sd1-fixture" (the reduced widths of the image-generation
// fixtures: UNet model_channels 32, VAE decoder 32, encoder 128, full-size CLIP), "sd2.1" (the real SD 2.1 and
// SD-Turbo sizes) and "sd2-small" (SD 2.x layout with the full OpenCLIP-H text encoder, UNet model_channels 64 and
// VAE decoder 32, cross-attention outputs x16 when synthesized: small enough for tests, and stable-diffusion.cpp
// still runs it).
SdConfig sd_config_named(const std::string& name);
std::vector<std::string> sd_config_names();

struct SdTensorSpec {
  std::string name;
  std::vector<int64_t> shape;  // PyTorch order, e.g. [c_out, c_in, kh, kw] for a convolution kernel
  float synth_gain = 1.f;      // the synthetic formula's extra factor (see synth_cross_attention_gain)
};

// Every tensor of a checkpoint of this configuration, in the order a single-file checkpoint stores them: text
// encoder, UNet, then the VAE (post_quant_conv, decoder, quant_conv, encoder).
std::vector<SdTensorSpec> sd_tensor_list(const SdConfig& config);

// Name prefixes of the three networks in LDM checkpoints.
inline constexpr const char* kClipPrefix = "cond_stage_model.transformer.text_model.";
inline constexpr const char* kOpenClipPrefix = "cond_stage_model.model.";
inline constexpr const char* kUnetPrefix = "model.diffusion_model.";
inline constexpr const char* kVaePrefix = "first_stage_model.";

}  // namespace fm
