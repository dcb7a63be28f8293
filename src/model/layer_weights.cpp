#include "model/layer_weights.h"

#include "gguf/gguf_file.h"

namespace fm {
namespace {
std::string block(int64_t layer) { return "blk." + std::to_string(layer) + "."; }
}  // namespace

HParams read_decoder_hparams(const GgufFile& file, const std::string& arch, RopeLayout layout) {
  HParams hp = read_hparams(file, arch, layout);
  const GgufTensorInfo* emb = file.find_tensor("token_embd.weight");
  if (!emb) throw GgufError("missing tensor 'token_embd.weight'");
  hp.n_vocab = emb->n_rows();
  return hp;
}

IoWeights bind_io(WeightBinder& b, const HParams& hp) {
  IoWeights io;
  io.tok_embd = b.lookup_matrix("token_embd.weight", hp.n_embd, hp.n_vocab);
  io.output_norm = b.vector("output_norm.weight", hp.n_embd);
  auto output = b.optional_matrix("output.weight", hp.n_embd, hp.n_vocab);
  io.output = output ? *output : b.also_for_products(io.tok_embd);
  return io;
}

AttentionWeights bind_attention(WeightBinder& b, const HParams& hp, int64_t layer, const AttentionLayout& layout) {
  const std::string p = block(layer);
  const int64_t E = hp.n_embd;
  AttentionWeights w;
  w.norm = b.vector(p + "attn_norm.weight", E);
  if (layout.fused_qkv) {
    w.wqkv = b.matrix(p + "attn_qkv.weight", E, hp.q_dim() + hp.kv_dim() + hp.v_dim());
  } else {
    w.wq = b.matrix(p + "attn_q.weight", E, hp.q_dim());
    w.wk = b.matrix(p + "attn_k.weight", E, hp.kv_dim());
    w.wv = b.matrix(p + "attn_v.weight", E, hp.v_dim());
  }
  if (layout.biases) {
    w.bq = b.vector(p + "attn_q.bias", hp.q_dim());
    w.bk = b.vector(p + "attn_k.bias", hp.kv_dim());
    w.bv = b.vector(p + "attn_v.bias", hp.v_dim());
  }
  if (layout.qk_norm) {
    w.q_norm = b.vector(p + "attn_q_norm.weight", hp.head_dim);
    w.k_norm = b.vector(p + "attn_k_norm.weight", hp.head_dim);
  }
  w.wo = b.matrix(p + "attn_output.weight", hp.n_head * hp.head_dim_v, E);
  if (layout.post_norm) w.post_norm = b.vector(p + "post_attention_norm.weight", E);
  return w;
}

FfnWeights bind_ffn(WeightBinder& b, const HParams& hp, int64_t layer, const FfnLayout& layout) {
  const std::string p = block(layer);
  const int64_t E = hp.n_embd, F = hp.n_ff;
  FfnWeights w;
  w.norm = b.vector(p + "ffn_norm.weight", E);
  if (layout.fused_gate_up) {
    w.gate_up = b.matrix(p + "ffn_up.weight", E, 2 * F);
  } else {
    w.gate = b.matrix(p + "ffn_gate.weight", E, F);
    w.up = b.matrix(p + "ffn_up.weight", E, F);
  }
  w.down = b.matrix(p + "ffn_down.weight", F, E);
  if (layout.post_norm) w.post_norm = b.vector(p + "post_ffw_norm.weight", E);
  return w;
}

MoeWeights bind_moe(WeightBinder& b, const HParams& hp, int64_t layer) {
  const std::string p = block(layer);
  const int64_t E = hp.n_embd, F = hp.n_ff_exp;
  if (hp.n_expert <= 0) throw GgufError(hp.arch + ": expert_count is missing");
  MoeWeights w;
  w.norm = b.vector(p + "ffn_norm.weight", E);
  w.router = b.matrix(p + "ffn_gate_inp.weight", E, hp.n_expert);
  w.gate = b.experts(p + "ffn_gate_exps.weight", E, F, hp.n_expert);
  w.up = b.experts(p + "ffn_up_exps.weight", E, F, hp.n_expert);
  w.down = b.experts(p + "ffn_down_exps.weight", F, E, hp.n_expert);
  return w;
}

}  // namespace fm
