// The `llama` family (Llama 2/3.x, DeepSeek-R1-Distill-Llama, llama2.c conversions): RMSNorm pre-norm blocks,
// RoPE on adjacent pairs with Llama 3 frequency factors (rope_freqs), grouped-query attention, SwiGLU FFN,
// tied or separate output.
#include "model/dense_decoder.h"
#include "model/registry.h"

namespace fm {

std::unique_ptr<Model> make_llama_model(const GgufFile& file) {
  DenseDecoderSpec spec;
  spec.arch = "llama";
  spec.rope_layout = RopeLayout::kAdjacentPairs;
  spec.freq_factors = "rope_freqs.weight";
  return make_dense_decoder(file, spec);
}

}  // namespace fm
