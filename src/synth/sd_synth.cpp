#include "synth/sd_synth.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "diffusion/safetensors.h"
#include "gguf/gguf_writer.h"
#include "tensor/kernels/kernel_table.h"

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

namespace {

// How a GGUF checkpoint stores a tensor, as stable-diffusion.cpp's converter does for the types it offers: Q8_0
// for the linear layers' matrices, convolution kernels and embeddings in F16, vectors in F32.
TensorType gguf_type_of(const SdTensorSpec& spec, TensorType requested) {
  if (spec.shape.size() <= 1) return TensorType::F32;
  if (requested != TensorType::Q8_0) return requested;
  const bool embedding = spec.name.find("embedding") != std::string::npos;
  if (spec.shape.size() == 2 && !embedding && spec.shape.back() % 32 == 0) return TensorType::Q8_0;
  return TensorType::F16;
}

void write_gguf_checkpoint(const std::vector<SdTensorSpec>& specs, TensorType type, uint64_t seed,
                           const std::string& output) {
  GgufWriter w;
  for (const SdTensorSpec& spec : specs) {
    const TensorType t = gguf_type_of(spec, type);
    std::vector<int64_t> dims(spec.shape.rbegin(), spec.shape.rend());  // GGUF: innermost first
    if (dims.empty()) dims.push_back(1);
    w.add_tensor(spec.name, t, dims, [spec, t, seed](uint8_t* dst) {
      int64_t n = 1;
      for (int64_t d : spec.shape) n *= d;
      std::vector<float> values(static_cast<size_t>(n));
      sd_formula_values(spec, seed, values);
      const int64_t row = spec.shape.empty() ? 1 : spec.shape.back();
      const size_t row_bytes = tensor_row_bytes(t, row);
      const QuantizeRowFn quantize = t == TensorType::F32 ? nullptr : scalar_kernels().quantize_fn(t);
      for (int64_t r = 0; r < n / row; ++r) {
        if (quantize) quantize(values.data() + r * row, dst + r * row_bytes, row);
        else std::memcpy(dst + r * row_bytes, values.data() + r * row, row_bytes);
      }
    });
  }
  w.write_file(output);
}

bool is_gguf(const std::string& path) { return ends_with(path, ".gguf"); }

}  // namespace

void synthesize_sd_checkpoint(const std::string& shape, TensorType type, uint64_t seed, const std::string& output) {
  const std::vector<SdTensorSpec> specs = sd_tensor_list(sd_config_named(shape));
  if (is_gguf(output)) return write_gguf_checkpoint(specs, type, seed, output);
  if (type != TensorType::F32 && type != TensorType::F16)
    throw std::invalid_argument("safetensors checkpoints are written as F32 or F16 (Q8_0: write a .gguf)");
  std::vector<SafetensorsEntry> entries;
  for (const auto& s : specs) entries.push_back({s.name, s.shape});
  write_safetensors(output, entries, type, [&](size_t i, std::vector<float>& out) { sd_formula_values(specs[i], seed, out); });
}

}  // namespace fm
