#pragma once
// Binding of the standard GGUF tensor names (llama.cpp's layout) to the block library's weight structs.
// Families say which optional parts they expect; an expected tensor that is missing is an error.
#include <string>

#include "model/layer_blocks.h"
#include "model/weights.h"

namespace fm {

class GgufFile;

struct AttentionLayout {
  bool fused_qkv = false;  // attn_qkv instead of attn_q/attn_k/attn_v
  bool biases = false;     // attn_{q,k,v}.bias
  bool qk_norm = false;    // attn_q_norm / attn_k_norm
  bool post_norm = false;  // post_attention_norm
};

struct FfnLayout {
  bool fused_gate_up = false;  // ffn_up holds [gate | up] rows
  bool post_norm = false;      // post_ffw_norm
};

// Embedding, final norm and output projection (token_embd when the file has no output.weight).
struct IoWeights {
  MatrixView tok_embd;       // [n_vocab, n_embd]
  const float* output_norm;  // [n_embd]
  MatrixView output;         // [n_vocab, n_embd]
};

// Reads the family's hyper-parameters and sets n_vocab from token_embd.
HParams read_decoder_hparams(const GgufFile& file, const std::string& arch, RopeLayout layout);
IoWeights bind_io(WeightBinder& b, const HParams& hp);
AttentionWeights bind_attention(WeightBinder& b, const HParams& hp, int64_t layer, const AttentionLayout& layout);
FfnWeights bind_ffn(WeightBinder& b, const HParams& hp, int64_t layer, const FfnLayout& layout);
MoeWeights bind_moe(WeightBinder& b, const HParams& hp, int64_t layer);

}  // namespace fm
