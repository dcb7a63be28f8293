#include "support/random_tensors.h"

#include <gtest/gtest.h>

#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"

namespace fm {

// Random bytes with every fp16 scale field replaced by a small valid value, so no block holds inf/NaN.
std::vector<uint8_t> random_row(TensorType type, int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> bytes(tensor_row_bytes(type, n));
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : bytes) b = static_cast<uint8_t>(byte(rng));
  std::uniform_real_distribution<float> scale(0.001f, 0.05f), value(-2.f, 2.f);
  auto blocks = [&](auto* p, size_t count, auto fix) {
    for (size_t i = 0; i < count; ++i) fix(p[i]);
  };
  const size_t n32 = static_cast<size_t>(n / kQK), n256 = static_cast<size_t>(n / kQK_K);
  switch (type) {
    case TensorType::F32: {
      auto* f = reinterpret_cast<float*>(bytes.data());
      for (int64_t i = 0; i < n; ++i) f[i] = value(rng);
      break;
    }
    case TensorType::F16: {
      auto* h = reinterpret_cast<uint16_t*>(bytes.data());
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(value(rng));
      break;
    }
    case TensorType::BF16: {
      auto* h = reinterpret_cast<uint16_t*>(bytes.data());
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(value(rng));
      break;
    }
    case TensorType::Q4_0: blocks(reinterpret_cast<BlockQ4_0*>(bytes.data()), n32, [&](auto& b) { b.d = fp32_to_fp16(scale(rng)); }); break;
    case TensorType::Q5_0: blocks(reinterpret_cast<BlockQ5_0*>(bytes.data()), n32, [&](auto& b) { b.d = fp32_to_fp16(scale(rng)); }); break;
    case TensorType::Q8_0: blocks(reinterpret_cast<BlockQ8_0*>(bytes.data()), n32, [&](auto& b) { b.d = fp32_to_fp16(scale(rng)); }); break;
    case TensorType::Q4_1:
      blocks(reinterpret_cast<BlockQ4_1*>(bytes.data()), n32, [&](auto& b) {
        b.d = fp32_to_fp16(scale(rng));
        b.m = fp32_to_fp16(-scale(rng) * 8);
      });
      break;
    case TensorType::Q5_1:
      blocks(reinterpret_cast<BlockQ5_1*>(bytes.data()), n32, [&](auto& b) {
        b.d = fp32_to_fp16(scale(rng));
        b.m = fp32_to_fp16(-scale(rng) * 16);
      });
      break;
    case TensorType::Q4_K:
      blocks(reinterpret_cast<BlockQ4_K*>(bytes.data()), n256, [&](auto& b) {
        b.d = fp32_to_fp16(scale(rng) / 8);
        b.dmin = fp32_to_fp16(scale(rng) / 8);
      });
      break;
    case TensorType::Q5_K:
      blocks(reinterpret_cast<BlockQ5_K*>(bytes.data()), n256, [&](auto& b) {
        b.d = fp32_to_fp16(scale(rng) / 8);
        b.dmin = fp32_to_fp16(scale(rng) / 8);
      });
      break;
    case TensorType::Q6_K: blocks(reinterpret_cast<BlockQ6_K*>(bytes.data()), n256, [&](auto& b) { b.d = fp32_to_fp16(scale(rng) / 16); }); break;
    default: ADD_FAILURE() << "no generator for type";
  }
  return bytes;
}

std::vector<float> random_activations(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = dist(rng);
  x[3] = 4.5f;  // an outlier, as real activations have
  return x;
}

}  // namespace fm
