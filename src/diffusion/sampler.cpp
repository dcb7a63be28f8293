#include "diffusion/sampler.h"

#include <algorithm>
#include <cmath>

#include "diffusion/philox_rng.h"

namespace fm {

DiscreteSchedule::DiscreteSchedule() : log_sigmas_(kTimesteps) {
  const float start = std::sqrt(0.00085f), end = std::sqrt(0.012f), amount = end - start;
  float product = 1.0f;
  for (int i = 0; i < kTimesteps; ++i) {
    const float beta = start + amount * (static_cast<float>(i) / static_cast<float>(kTimesteps - 1));
    product *= 1.0f - std::pow(beta, 2.0f);
    log_sigmas_[static_cast<size_t>(i)] = std::log(std::sqrt((1 - product) / product));
  }
}

float DiscreteSchedule::t_to_sigma(float t) const {
  const int lo = static_cast<int>(std::floor(t)), hi = static_cast<int>(std::ceil(t));
  const float w = t - static_cast<float>(lo);
  return std::exp((1.0f - w) * log_sigmas_[static_cast<size_t>(lo)] + w * log_sigmas_[static_cast<size_t>(hi)]);
}

float DiscreteSchedule::sigma_to_t(float sigma) const {
  const float log_sigma = std::log(sigma);
  int lo = 0;
  for (float ls : log_sigmas_)
    if (log_sigma - ls >= 0) ++lo;  // how many log-sigmas lie at or below
  lo = std::min(std::max(lo - 1, 0), kTimesteps - 2);
  const float low = log_sigmas_[static_cast<size_t>(lo)], high = log_sigmas_[static_cast<size_t>(lo + 1)];
  const float w = std::clamp((low - log_sigma) / (low - high), 0.f, 1.f);
  return (1.0f - w) * static_cast<float>(lo) + w * static_cast<float>(lo + 1);
}

std::vector<float> DiscreteSchedule::sigmas(int n) const {
  std::vector<float> out;
  if (n <= 0) return out;
  const float t_max = static_cast<float>(kTimesteps - 1);
  if (n == 1) {
    out.push_back(t_to_sigma(t_max));
  } else {
    const float step = t_max / static_cast<float>(n - 1);
    for (int i = 0; i < n; ++i) out.push_back(t_to_sigma(t_max - step * static_cast<float>(i)));
  }
  out.push_back(0.f);
  return out;
}

std::optional<SamplerKind> sampler_from_name(const std::string& name) {
  if (name == "euler") return SamplerKind::kEuler;
  if (name == "euler_a") return SamplerKind::kEulerAncestral;
  if (name == "dpmpp2m" || name == "dpm++2m") return SamplerKind::kDpmpp2m;
  return std::nullopt;
}

const char* sampler_name(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::kEuler: return "euler";
    case SamplerKind::kEulerAncestral: return "euler_a";
    case SamplerKind::kDpmpp2m: return "dpmpp2m";
  }
  return "";
}

void run_sampler(SamplerKind kind, const std::vector<float>& sigmas, std::vector<float>& x, const Denoiser& denoise,
                 PhiloxRng& rng) {
  const int steps = static_cast<int>(sigmas.size()) - 1;
  std::vector<float> old_denoised;
  for (int i = 0; i < steps; ++i) {
    const float sigma = sigmas[static_cast<size_t>(i)], next = sigmas[static_cast<size_t>(i + 1)];
    const std::vector<float> denoised = denoise(x, sigma, i);
    switch (kind) {
      case SamplerKind::kEuler: {
        const float dt = next - sigma;
        for (size_t j = 0; j < x.size(); ++j) x[j] = x[j] + (x[j] - denoised[j]) / sigma * dt;
        break;
      }
      case SamplerKind::kEulerAncestral: {
        const float up = std::min(next, std::sqrt(next * next * (sigma * sigma - next * next) / (sigma * sigma)));
        const float down = std::sqrt(next * next - up * up);
        const float dt = down - sigma;
        for (size_t j = 0; j < x.size(); ++j) x[j] = x[j] + (x[j] - denoised[j]) / sigma * dt;
        if (next > 0) {
          const std::vector<float> noise = rng.randn(x.size());
          for (size_t j = 0; j < x.size(); ++j) x[j] = x[j] + noise[j] * up;
        }
        break;
      }
      case SamplerKind::kDpmpp2m: {
        // t = -log(sigma); second-order multistep on the denoised estimates.
        const float t = -std::log(sigma), t_next = -std::log(next), h = t_next - t;
        const float a = next / sigma, b = std::exp(-h) - 1.f;
        if (i == 0 || next == 0) {
          for (size_t j = 0; j < x.size(); ++j) x[j] = a * x[j] - b * denoised[j];
        } else {
          const float h_last = t - (-std::log(sigmas[static_cast<size_t>(i - 1)]));
          const float r = h_last / h;
          for (size_t j = 0; j < x.size(); ++j) {
            const float d = (1.f + 1.f / (2.f * r)) * denoised[j] - (1.f / (2.f * r)) * old_denoised[j];
            x[j] = a * x[j] - b * d;
          }
        }
        old_denoised = denoised;
        break;
      }
    }
  }
}

}  // namespace fm
