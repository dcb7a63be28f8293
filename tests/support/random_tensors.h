#pragma once
// Random weight rows of every supported type (valid scales, random quantized values) and activation rows.
#include <cstdint>
#include <random>
#include <vector>

#include "gguf/tensor_type.h"

namespace fm {

std::vector<uint8_t> random_row(TensorType type, int64_t n, std::mt19937& rng);
std::vector<float> random_activations(int64_t n, std::mt19937& rng);

}  // namespace fm
