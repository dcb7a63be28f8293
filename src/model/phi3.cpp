// The `phi3` family (Phi-3, Phi-3.5, Phi-4 mini): fused QKV projection (rows Q|K|V), fused gate|up FFN
// projection, RoPE NEOX, queries pre-scaled by 1/sqrt(head_dim). LongRoPE models carry short and long frequency
// factors; the short ones apply within the original context, which is what we serve for now.
#include "model/dense_decoder.h"
#include "model/registry.h"

namespace fm {

std::unique_ptr<Model> make_phi3_model(const GgufFile& file) {
  DenseDecoderSpec spec;
  spec.arch = "phi3";
  spec.rope_layout = RopeLayout::kHalfSplit;
  spec.attention.fused_qkv = true;
  spec.ffn.fused_gate_up = true;
  spec.prescale_q = true;
  spec.freq_factors = "rope_factors_short.weight";
  return make_dense_decoder(file, spec);
}

}  // namespace fm
