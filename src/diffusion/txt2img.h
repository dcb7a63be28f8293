#pragma once
// Text to image with a Stable Diffusion 1.x / 2.x checkpoint: text encoder -> sampler loop over the UNet (with
// classifier-free guidance when cfg > 1) -> VAE decoder -> 8-bit RGB. Every stage can be reported (by the names and
// layouts of the image-generation fixtures) so that each one is checked against stable-diffusion.cpp's.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "diffusion/sampler.h"
#include "diffusion/sd_config.h"
#include "image/image.h"
#include "tensor/matmul.h"

namespace fm {

class TensorSource;
class ClipTextEncoder;
class Unet;
class VaeDecoder;
class DiffusionWeights;

struct Txt2ImgRequest {
  std::vector<int32_t> tokens;           // [n_pos] ids of the prompt (BOS, text, EOS, padding)
  std::vector<int32_t> negative_tokens;  // the negative prompt's ids; used only when cfg_scale > 1
  uint64_t seed = 42;
  int steps = 20;
  int width = 512, height = 512;  // multiples of 64
  float cfg_scale = 7.0f;
  SamplerKind sampler = SamplerKind::kEuler;
};

// A stage's tensor: name (the fixtures' file name), PyTorch-order shape, values.
using StageSink = std::function<void(const std::string& name, const std::vector<int64_t>& shape, const float* data)>;
// Called after each sampler step (1-based) with the seconds it took.
using StepProgress = std::function<void(int step, int steps, double seconds)>;

struct Txt2ImgResult {
  RgbImage image;
  double encode_seconds = 0, sampling_seconds = 0, decode_seconds = 0;
};

class SdPipeline {
 public:
  SdPipeline(const SdConfig& config, const TensorSource& weights);  // throws naming a missing or mis-shaped tensor
  ~SdPipeline();
  const SdConfig& config() const { return config_; }

  Txt2ImgResult generate(const Compute& c, const Txt2ImgRequest& request, const StageSink& sink = {},
                         const StepProgress& progress = {}) const;

  // eps or v; a config's kAuto is settled on first use as stable-diffusion.cpp settles it for SD 2.x checkpoints:
  // the UNet's raw output on a constant 8x8 latent and context at t = 999 averages below -1 for v-prediction models.
  Prediction prediction(const Compute& c) const;

  // The stages on their own (each fixture stage is tested from its stored input).
  std::vector<float> encode_text(const Compute& c, const std::vector<int32_t>& tokens) const;  // [n_pos, width]
  // latent: planar [4, h, w]; returns the model output, planar.
  std::vector<float> unet(const Compute& c, const std::vector<float>& latent, int64_t h, int64_t w, float timestep,
                          const std::vector<float>& context) const;
  // latent: planar [4, h, w], already divided by the latent scale; returns the raw decoder output, planar [3, 8h, 8w].
  std::vector<float> decode(const Compute& c, const std::vector<float>& latent, int64_t h, int64_t w) const;

 private:
  SdConfig config_;
  std::unique_ptr<DiffusionWeights> weights_;
  std::unique_ptr<ClipTextEncoder> text_encoder_;
  std::unique_ptr<Unet> unet_;
  std::unique_ptr<VaeDecoder> vae_;
  DiscreteSchedule schedule_;
  mutable std::once_flag prediction_once_;
  mutable Prediction prediction_ = Prediction::kAuto;
};

// The decoder's raw output as an 8-bit image: v = clamp((raw + 1) / 2, 0, 1), pixel = u8(v * 255 + 0.5).
// raw: planar [3, h, w]; float_image (optional) receives v, planar.
RgbImage decoded_to_image(const std::vector<float>& raw, int64_t h, int64_t w, std::vector<float>* float_image);

}  // namespace fm
