#include "diffusion/txt2img.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "diffusion/clip_text_encoder.h"
#include "diffusion/nn.h"
#include "diffusion/philox_rng.h"
#include "diffusion/unet.h"
#include "diffusion/vae_decoder.h"

namespace fm {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

SdPipeline::SdPipeline(const SdConfig& config, const TensorSource& weights)
    : config_(config), weights_(std::make_unique<DiffusionWeights>(weights)) {
  text_encoder_ = std::make_unique<ClipTextEncoder>(config.clip, *weights_);
  unet_ = std::make_unique<Unet>(config.unet, *weights_);
  vae_ = std::make_unique<VaeDecoder>(config.vae, *weights_);
}

SdPipeline::~SdPipeline() = default;

Prediction SdPipeline::prediction(const Compute& c) const {
  std::call_once(prediction_once_, [&] {
    if (config_.prediction != Prediction::kAuto) {
      prediction_ = config_.prediction;
      return;
    }
    constexpr int64_t kSide = 8, kContextTokens = 2;
    const std::vector<float> x(static_cast<size_t>(config_.unet.in_channels * kSide * kSide), 0.5f);
    const std::vector<float> context(static_cast<size_t>(kContextTokens * config_.unet.context_dim), 0.5f);
    const std::vector<float> out = unet(c, x, kSide, kSide, 999.f, context);
    double mean = 0;
    for (size_t i = 0; i < out.size(); ++i) mean += static_cast<double>(out[i] - x[i]);
    mean /= static_cast<double>(out.size());
    prediction_ = mean < -1 ? Prediction::kV : Prediction::kEps;
  });
  return prediction_;
}

std::vector<float> SdPipeline::encode_text(const Compute& c, const std::vector<int32_t>& tokens) const {
  return text_encoder_->encode(c, tokens);
}

std::vector<float> SdPipeline::unet(const Compute& c, const std::vector<float>& latent, int64_t h, int64_t w,
                                    float timestep, const std::vector<float>& context) const {
  const FeatureMap x = from_planar(latent.data(), config_.unet.in_channels, h, w);
  const int64_t n_ctx = static_cast<int64_t>(context.size()) / config_.unet.context_dim;
  return to_planar(unet_->forward(c, x, timestep, context.data(), n_ctx));
}

std::vector<float> SdPipeline::decode(const Compute& c, const std::vector<float>& latent, int64_t h, int64_t w) const {
  return to_planar(vae_->decode(c, from_planar(latent.data(), config_.vae.z_channels, h, w)));
}

Txt2ImgResult SdPipeline::generate(const Compute& c, const Txt2ImgRequest& r, const StageSink& sink,
                                   const StepProgress& progress) const {
  if (r.width <= 0 || r.height <= 0 || r.width % 64 != 0 || r.height % 64 != 0)
    throw std::invalid_argument("width and height must be positive multiples of 64");
  if (r.steps < 1) throw std::invalid_argument("steps must be at least 1");
  const auto emit = [&](const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& v) {
    if (sink) sink(name, shape, v.data());
  };
  Txt2ImgResult result;
  const int64_t h = r.height / 8, w = r.width / 8, zc = config_.unet.in_channels;
  const std::vector<int64_t> latent_shape{1, zc, h, w};

  auto t0 = std::chrono::steady_clock::now();
  const std::vector<float> cond = encode_text(c, r.tokens);
  const bool guided = r.cfg_scale > 1.0f;
  const std::vector<float> uncond = guided ? encode_text(c, r.negative_tokens) : std::vector<float>{};
  emit("cond_crossattn.f32", {1, static_cast<int64_t>(r.tokens.size()), config_.clip.width}, cond);
  result.encode_seconds = seconds_since(t0);

  PhiloxRng rng(r.seed);
  const std::vector<float> noise = rng.randn(static_cast<size_t>(zc * h * w));
  emit("noise.f32", latent_shape, noise);
  const std::vector<float> sigmas = schedule_.sigmas(r.steps);
  emit("sigmas.f32", {static_cast<int64_t>(sigmas.size())}, sigmas);
  std::vector<float> x(noise.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = noise[i] * sigmas[0];
  emit("x_t_initial.f32", latent_shape, x);

  t0 = std::chrono::steady_clock::now();
  const bool v_pred = prediction(c) == Prediction::kV;
  const Denoiser denoise = [&](const std::vector<float>& xt, float sigma, int step) {
    const auto step_start = std::chrono::steady_clock::now();
    const float s2 = sigma * sigma + 1.f;
    const float c_in = 1.f / std::sqrt(s2);
    const float c_skip = v_pred ? 1.f / s2 : 1.f;
    const float c_out = v_pred ? -sigma / std::sqrt(s2) : -sigma;
    std::vector<float> in(xt.size());
    for (size_t i = 0; i < in.size(); ++i) in[i] = xt[i] * c_in;
    const float t = schedule_.sigma_to_t(sigma);
    const std::string k = "step" + std::to_string(step) + "_";
    emit(k + "unet_in.f32", latent_shape, in);
    emit(k + "timestep.f32", {1}, std::vector<float>{t});
    std::vector<float> out = unet(c, in, h, w, t, cond);
    if (guided) {
      const std::vector<float> out_uncond = unet(c, in, h, w, t, uncond);
      for (size_t i = 0; i < out.size(); ++i) out[i] = out_uncond[i] + r.cfg_scale * (out[i] - out_uncond[i]);
    }
    emit(k + "unet_out.f32", latent_shape, out);
    std::vector<float> denoised(xt.size());
    for (size_t i = 0; i < denoised.size(); ++i) denoised[i] = out[i] * c_out + xt[i] * c_skip;
    emit(k + "denoised.f32", latent_shape, denoised);
    if (progress) progress(step + 1, r.steps, seconds_since(step_start));
    return denoised;
  };
  run_sampler(r.sampler, sigmas, x, denoise, rng);
  emit("x0_final_latent.f32", latent_shape, x);
  result.sampling_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  const float inv_scale = 1.0f / config_.latent_scale;
  for (float& v : x) v *= inv_scale;
  emit("vae_in_latent.f32", latent_shape, x);
  const std::vector<float> raw = decode(c, x, h, w);
  emit("vae_decoder_raw.f32", {1, 3, h * 8, w * 8}, raw);
  std::vector<float> image_float;
  result.image = decoded_to_image(raw, h * 8, w * 8, &image_float);
  emit("vae_decoded_float.f32", {1, 3, h * 8, w * 8}, image_float);
  result.decode_seconds = seconds_since(t0);
  return result;
}

RgbImage decoded_to_image(const std::vector<float>& raw, int64_t h, int64_t w, std::vector<float>* float_image) {
  RgbImage img;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.pixels.resize(static_cast<size_t>(h * w * 3));
  if (float_image) float_image->resize(raw.size());
  const int64_t n = h * w;
  for (int64_t ch = 0; ch < 3; ++ch)
    for (int64_t p = 0; p < n; ++p) {
      const float v = std::clamp((raw[static_cast<size_t>(ch * n + p)] + 1.f) / 2.f, 0.f, 1.f);
      if (float_image) (*float_image)[static_cast<size_t>(ch * n + p)] = v;
      const uint8_t u = v <= 0.f ? 0 : v >= 1.f ? 255 : static_cast<uint8_t>(v * 255.f + 0.5f);
      img.pixels[static_cast<size_t>(p * 3 + ch)] = u;
    }
  return img;
}

}  // namespace fm
