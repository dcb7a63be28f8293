// The `qwen2` family (Qwen2.5, QwQ, DeepSeek-R1-Distill-Qwen): llama blocks with q/k/v projection biases and
// RoPE on half-split pairs (NEOX).
#include "model/dense_decoder.h"
#include "model/registry.h"

namespace fm {

std::unique_ptr<Model> make_qwen2_model(const GgufFile& file) {
  DenseDecoderSpec spec;
  spec.arch = "qwen2";
  spec.rope_layout = RopeLayout::kHalfSplit;
  spec.attention.biases = true;
  return make_dense_decoder(file, spec);
}

}  // namespace fm
