#pragma once
// Noise schedule and samplers of the k-diffusion family as stable-diffusion.cpp runs them, in f32: the discrete
// (DDPM "scaled linear") schedule, Euler, Euler ancestral and DPM++ 2M.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fm {

class PhiloxRng;

class DiscreteSchedule {
 public:
  DiscreteSchedule();  // betas from 0.00085 to 0.012 ("scaled linear") over 1000 training steps
  // n steps from t = 999 to 0, evenly, interpolated in log-sigma, then 0: [n + 1] values.
  std::vector<float> sigmas(int n) const;
  float sigma_to_t(float sigma) const;
  float t_to_sigma(float t) const;

 private:
  static constexpr int kTimesteps = 1000;
  std::vector<float> log_sigmas_;  // [kTimesteps], ascending with t
};

enum class SamplerKind { kEuler, kEulerAncestral, kDpmpp2m };
std::optional<SamplerKind> sampler_from_name(const std::string& name);  // euler, euler_a, dpmpp2m
const char* sampler_name(SamplerKind kind);

// The denoised estimate for x at noise level sigma; step counts from 0.
using Denoiser = std::function<std::vector<float>(const std::vector<float>& x, float sigma, int step)>;

// Runs the sampler over sigmas ([n + 1], ending at 0) starting from x (already noise * sigmas[0]); x ends as the
// final latent. The ancestral sampler draws its noise from rng.
void run_sampler(SamplerKind kind, const std::vector<float>& sigmas, std::vector<float>& x, const Denoiser& denoise,
                 PhiloxRng& rng);

}  // namespace fm
