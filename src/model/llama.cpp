// The `llama` family (Llama 2/3, llama2.c conversions, DeepSeek-R1-Distill-Llama): pre-norm blocks with
// RMSNorm, RoPE on adjacent pairs, grouped-query attention, SwiGLU FFN, tied or separate output.
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "gguf/gguf_file.h"
#include "model/blocks.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/registry.h"
#include "model/weights.h"

namespace fm {
namespace {

struct LlamaLayer {
  const float* attn_norm;  // [n_embd]
  MatrixView wq;           // [q_dim, n_embd]
  MatrixView wk;           // [kv_dim, n_embd]
  MatrixView wv;           // [v_dim, n_embd]
  MatrixView wo;           // [n_embd, n_head * head_dim_v]
  const float* ffn_norm;   // [n_embd]
  MatrixView gate;         // [n_ff, n_embd]
  MatrixView up;           // [n_ff, n_embd]
  MatrixView down;         // [n_embd, n_ff]
};

class LlamaModel final : public Model {
 public:
  explicit LlamaModel(const GgufFile& file)
      : binder_(file),
        rope_(RopeLayout::kAdjacentPairs, 0, 1, 1.f) {
    hp_ = read_hparams(file, "llama", RopeLayout::kAdjacentPairs);
    rope_ = Rope(hp_.rope_layout, hp_.n_rot, hp_.head_dim, hp_.rope_base);
    const GgufTensorInfo* emb = file.find_tensor("token_embd.weight");
    if (!emb) throw GgufError("missing tensor 'token_embd.weight'");
    hp_.n_vocab = emb->n_rows();
    const int64_t E = hp_.n_embd, F = hp_.n_ff;
    tok_embd_ = binder_.matrix("token_embd.weight", E, hp_.n_vocab);
    output_norm_ = binder_.vector("output_norm.weight", E);
    output_ = binder_.optional_matrix("output.weight", E, hp_.n_vocab).value_or(tok_embd_);
    for (int64_t l = 0; l < hp_.n_layer; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      layers_.push_back({binder_.vector(p + "attn_norm.weight", E), binder_.matrix(p + "attn_q.weight", E, hp_.q_dim()),
                         binder_.matrix(p + "attn_k.weight", E, hp_.kv_dim()),
                         binder_.matrix(p + "attn_v.weight", E, hp_.v_dim()),
                         binder_.matrix(p + "attn_output.weight", hp_.n_head * hp_.head_dim_v, E),
                         binder_.vector(p + "ffn_norm.weight", E), binder_.matrix(p + "ffn_gate.weight", E, F),
                         binder_.matrix(p + "ffn_up.weight", E, F), binder_.matrix(p + "ffn_down.weight", F, E)});
    }
  }

  void forward(const Compute& c, ForwardState& st, KvCache& cache, const int32_t* tokens, int64_t n, bool all_logits,
               float* logits) const override {
    const int64_t E = hp_.n_embd, pos0 = cache.n_used();
    if (n <= 0 || n > st.max_tokens) throw std::invalid_argument("batch of " + std::to_string(n) + " tokens does not fit");
    if (pos0 + n > cache.n_ctx())
      throw std::length_error("context of " + std::to_string(cache.n_ctx()) + " positions is full");
    for (int64_t t = 0; t < n; ++t) {
      if (tokens[t] < 0 || tokens[t] >= hp_.n_vocab)
        throw std::out_of_range("token id " + std::to_string(tokens[t]) + " is outside the vocabulary");
      dequantize_row(*c.kernels, tok_embd_, tokens[t], st.x.data() + t * E);
    }
    const AttentionShape shape{hp_.n_head, hp_.n_head_kv, hp_.head_dim, hp_.head_dim_v,
                               1.f / std::sqrt(static_cast<float>(hp_.head_dim))};
    float *x = st.x.data(), *h = st.h.data();
    for (int64_t l = 0; l < hp_.n_layer; ++l) {
      const LlamaLayer& L = layers_[l];
      rms_norm(x, L.attn_norm, n, E, hp_.rms_eps, h);
      matmul(c, L.wq, h, n, st.q.data());
      matmul(c, L.wk, h, n, st.k.data());
      matmul(c, L.wv, h, n, st.v.data());
      rope_.apply(st.q.data(), n, hp_.n_head, pos0);
      rope_.apply(st.k.data(), n, hp_.n_head_kv, pos0);
      for (int64_t t = 0; t < n; ++t)
        cache.store(l, pos0 + t, st.k.data() + t * hp_.kv_dim(), st.v.data() + t * hp_.v_dim());
      attention(c, shape, st.q.data(), cache, l, pos0, n, st.scores.data(), st.att.data());
      matmul(c, L.wo, st.att.data(), n, h);
      add_inplace(x, h, n * E);

      rms_norm(x, L.ffn_norm, n, E, hp_.rms_eps, h);
      matmul(c, L.gate, h, n, st.ffn_a.data());
      matmul(c, L.up, h, n, st.ffn_b.data());
      swiglu(st.ffn_a.data(), st.ffn_b.data(), n * hp_.n_ff, st.ffn_a.data());
      matmul(c, L.down, st.ffn_a.data(), n, h);
      add_inplace(x, h, n * E);
    }
    cache.set_used(pos0 + n);
    const int64_t first = all_logits ? 0 : n - 1;
    rms_norm(x + first * E, output_norm_, n - first, E, hp_.rms_eps, h);
    matmul(c, output_, h, n - first, logits);
  }

 private:
  WeightBinder binder_;
  Rope rope_;
  MatrixView tok_embd_;        // [n_vocab, n_embd]
  const float* output_norm_;   // [n_embd]
  MatrixView output_;          // [n_vocab, n_embd]; token_embd when tied
  std::vector<LlamaLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_llama_model(const GgufFile& file) { return std::make_unique<LlamaModel>(file); }

}  // namespace fm
