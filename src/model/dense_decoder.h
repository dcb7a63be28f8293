#pragma once
// The common pre-norm decoder: x += attention(norm(x)); x += gated_ffn(norm(x)) per layer, then the output
// projection. Families that differ only in tensor layout and RoPE details (llama, qwen2, qwen3, phi3) are a
// DenseDecoderSpec each, in their own file; families with other structure write their own forward.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/layer_weights.h"

namespace fm {

struct DenseDecoderSpec {
  std::string arch;
  RopeLayout rope_layout = RopeLayout::kAdjacentPairs;
  AttentionLayout attention;
  FfnLayout ffn;
  FfnActivation activation = FfnActivation::kSilu;
  bool prescale_q = false;            // scale Q by 1/sqrt(head_dim) before q.k (as llama.cpp does for phi3)
  const char* freq_factors = nullptr;  // optional [n_rot/2] tensor dividing RoPE frequencies
  std::vector<int64_t> mrope_sections;  // M-RoPE rotation pairs per position section (t, h, w, extra); empty = RoPE
};

std::unique_ptr<Model> make_dense_decoder(const GgufFile& file, const DenseDecoderSpec& spec);

}  // namespace fm
