#pragma once
// Stable Diffusion checkpoints with weights from the image-generation fixtures' integer formula (see
// fixtures/imagegen/README.md): every value is exact in f32, so a generator is checked tensor by tensor against the
// fixture's sha256 list, and the same formula with another seed gives random weights of real shapes for benchmarks.
#include <cstdint>
#include <string>
#include <vector>

#include "diffusion/sd_config.h"
#include "diffusion/tensor_source.h"
#include "gguf/tensor_type.h"

namespace fm {

// Fills `out` (sized to the tensor's element count) with the formula's values for tensor `spec`.
void sd_formula_values(const SdTensorSpec& spec, uint64_t seed, std::vector<float>& out);

// The checkpoint's tensors in memory (f32); the VAE encoder, which txt2img never runs, only when asked.
TensorMap sd_formula_weights(const SdConfig& config, uint64_t seed, bool with_encoder);

// Writes a single-file checkpoint of the named shape (sd_config_names()): safetensors (F32 or F16), or GGUF when
// `output` ends in .gguf (F32, F16, or Q8_0 linear weights with F16 convolutions as stable-diffusion.cpp converts).
void synthesize_sd_checkpoint(const std::string& shape, TensorType type, uint64_t seed, const std::string& output);

}  // namespace fm
