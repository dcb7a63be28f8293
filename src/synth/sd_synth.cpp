#include "synth/sd_synth.h"

#include <algorithm>
#include <stdexcept>

#include "diffusion/safetensors.h"

namespace fm {
namespace {

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// k: the largest integer with 4^k <= fan_in (so 2^-k is about 1/sqrt(fan_in)).
int fan_in_shift(const std::vector<int64_t>& shape) {
  int64_t fan_in = 1;
  for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
  int k = 0;
  while ((int64_t{1} << (2 * (k + 1))) <= fan_in) ++k;
  return k;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void sd_formula_values(const SdTensorSpec& spec, uint64_t seed, std::vector<float>& out) {
  const uint64_t h = fnv1a64(spec.name) ^ seed;
  enum { kScaled, kGain, kBias } kind = kScaled;
  float scale = 1.f;
  if (spec.shape.empty() && ends_with(spec.name, "logit_scale")) {  // open_clip's ln(1 / temperature)
    std::fill(out.begin(), out.end(), 4.6052f);
    return;
  }
  if (spec.shape.size() >= 2) {
    scale = spec.synth_gain / static_cast<float>(int64_t{1} << fan_in_shift(spec.shape));
  } else if (ends_with(spec.name, "weight")) {
    kind = kGain;
  } else if (ends_with(spec.name, "bias")) {  // ".bias", and open_clip's "in_proj_bias"
    kind = kBias;
  } else {
    throw std::invalid_argument("no formula for the rank-1 tensor " + spec.name);
  }
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t z = h + (static_cast<uint64_t>(i) + 1) * 0x9E3779B97F4A7C15ull;
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float v = static_cast<float>(2 * static_cast<int64_t>(z >> 54) - 1023) / 1024.f;
    out[i] = kind == kScaled ? v * scale : kind == kGain ? 1.f + v / 8.f : v / 32.f;
  }
}

TensorMap sd_formula_weights(const SdConfig& config, uint64_t seed, bool with_encoder) {
  TensorMap map;
  const std::string encoder = std::string(kVaePrefix) + "encoder.";
  for (const SdTensorSpec& spec : sd_tensor_list(config)) {
    if (!with_encoder && spec.name.compare(0, encoder.size(), encoder) == 0) continue;
    int64_t n = 1;
    for (int64_t d : spec.shape) n *= d;
    std::vector<float> values(static_cast<size_t>(n));
    sd_formula_values(spec, seed, values);
    map.add(spec.name, spec.shape, std::move(values));
  }
  return map;
}

void synthesize_sd_checkpoint(const std::string& shape, TensorType type, uint64_t seed, const std::string& output) {
  const std::vector<SdTensorSpec> specs = sd_tensor_list(sd_config_named(shape));
  std::vector<SafetensorsEntry> entries;
  for (const auto& s : specs) entries.push_back({s.name, s.shape});
  write_safetensors(output, entries, type, [&](size_t i, std::vector<float>& out) { sd_formula_values(specs[i], seed, out); });
}

}  // namespace fm
