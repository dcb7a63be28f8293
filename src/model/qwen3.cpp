// The `qwen3` family (Qwen3 dense): per-head RMSNorm of queries and keys before RoPE (NEOX), no biases.
#include "model/dense_decoder.h"
#include "model/registry.h"

namespace fm {

std::unique_ptr<Model> make_qwen3_model(const GgufFile& file) {
  DenseDecoderSpec spec;
  spec.arch = "qwen3";
  spec.rope_layout = RopeLayout::kHalfSplit;
  spec.attention.qk_norm = true;
  return make_dense_decoder(file, spec);
}

}  // namespace fm
