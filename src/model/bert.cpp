// The encoder families of embedding models, `bert` and `nomic-bert` (llama.cpp's tensor layout):
// x = LN(token_embd[id] + token_types[0] (+ position_embd[p], bert)); per layer, post-norm:
//   x = LN(x + attn(x)), x = LN(x + ffn(x)).
// bert: biased Q/K/V/O, GELU FFN with biases; nomic-bert: fused QKV without biases, NEOX RoPE, SwiGLU FFN.
// Attention is bidirectional (`<arch>.attention.causal` = false). The output is the hidden state after the last
// layer (no final norm, no language-model head): these models produce embeddings only.
#include <cmath>
#include <cstring>
#include <optional>

#include "gguf/gguf_file.h"
#include "model/kv_cache.h"
#include "model/layer_weights.h"
#include "model/registry.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm {
namespace {

class BertModel final : public Model {
 public:
  BertModel(const GgufFile& file, const std::string& arch) : nomic_(arch == "nomic-bert"), binder_(file) {
    hp_ = read_decoder_hparams(file, arch, RopeLayout::kHalfSplit);  // n_vocab from token_embd
    ln_eps_ = static_cast<float>(file.get_float_or(arch + ".attention.layer_norm_epsilon", 1e-12));
    if (!(ln_eps_ >= 0) || ln_eps_ > 1) throw GgufError(arch + ".attention.layer_norm_epsilon is out of range");
    const int64_t E = hp_.n_embd;
    if (hp_.n_head_kv != hp_.n_head || hp_.head_dim * hp_.n_head != E) throw GgufError(arch + ": heads must split the width");
    tok_embd_ = binder_.lookup_matrix("token_embd.weight", E, hp_.n_vocab);
    token_types_ = binder_.lookup_matrix("token_types.weight", E, file.find_tensor("token_types.weight")
                                                                      ? file.find_tensor("token_types.weight")->n_rows() : 1);
    if (!nomic_) position_embd_ = binder_.lookup_matrix("position_embd.weight", E, hp_.n_ctx_train);
    embd_norm_w_ = binder_.vector("token_embd_norm.weight", E);
    embd_norm_b_ = binder_.vector("token_embd_norm.bias", E);
    if (nomic_) rope_.emplace(RopeLayout::kHalfSplit, hp_.n_rot, hp_.head_dim, hp_.rope_base);
    for (int64_t l = 0; l < hp_.n_layer; ++l) layers_.push_back(bind_layer(l));
  }

  bool is_encoder() const override { return true; }

  void forward(const Compute& base, ForwardState& st, Batch& batch, float* out) const override {
    check_batch(hp_, st, batch);
    if (!batch.output_hidden) throw std::invalid_argument(hp_.arch + " is an encoder: it computes embeddings, not logits");
    const Compute c = batch_compute(base, batch);
    const int64_t n = batch.n_tokens(), E = hp_.n_embd;
    embed(c, st, batch);
    for (int64_t l = 0; l < hp_.n_layer; ++l) {
      attention(c, layers_[l], st, batch, l);
      ffn(c, layers_[l], st, n);
    }
    commit_batch(batch);
    for (size_t i = 0; i < batch.logit_rows.size(); ++i)
      std::memcpy(out + i * E, st.x.data() + batch.logit_rows[i] * E, sizeof(float) * E);
  }

 private:
  struct Layer {
    MatrixView wq, wk, wv, wqkv, wo;             // [E, E] each (wqkv: [3E, E])
    const float *bq = nullptr, *bk = nullptr, *bv = nullptr, *bo = nullptr;  // [E]
    const float *attn_norm_w, *attn_norm_b;      // [E] attn_output_norm
    MatrixView up, gate, down;                   // [n_ff, E], [n_ff, E] (nomic), [E, n_ff]
    const float *b_up = nullptr, *b_down = nullptr;  // [n_ff], [E]
    const float *out_norm_w, *out_norm_b;        // [E] layer_output_norm
  };

  Layer bind_layer(int64_t l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const int64_t E = hp_.n_embd, F = hp_.n_ff;
    Layer w;
    if (nomic_) {
      w.wqkv = binder_.matrix(p + "attn_qkv.weight", E, 3 * E);
    } else {
      w.wq = binder_.matrix(p + "attn_q.weight", E, E);
      w.wk = binder_.matrix(p + "attn_k.weight", E, E);
      w.wv = binder_.matrix(p + "attn_v.weight", E, E);
      w.bq = binder_.vector(p + "attn_q.bias", E);
      w.bk = binder_.vector(p + "attn_k.bias", E);
      w.bv = binder_.vector(p + "attn_v.bias", E);
      w.bo = binder_.vector(p + "attn_output.bias", E);
    }
    w.wo = binder_.matrix(p + "attn_output.weight", E, E);
    w.attn_norm_w = binder_.vector(p + "attn_output_norm.weight", E);
    w.attn_norm_b = binder_.vector(p + "attn_output_norm.bias", E);
    w.up = binder_.matrix(p + "ffn_up.weight", E, F);
    w.down = binder_.matrix(p + "ffn_down.weight", F, E);
    if (nomic_) {
      w.gate = binder_.matrix(p + "ffn_gate.weight", E, F);
    } else {
      w.b_up = binder_.vector(p + "ffn_up.bias", F);
      w.b_down = binder_.vector(p + "ffn_down.bias", E);
    }
    w.out_norm_w = binder_.vector(p + "layer_output_norm.weight", E);
    w.out_norm_b = binder_.vector(p + "layer_output_norm.bias", E);
    return w;
  }

  void embed(const Compute& c, ForwardState& st, const Batch& batch) const {
    const int64_t E = hp_.n_embd;
    std::vector<float> pos(static_cast<size_t>(E)), type0(static_cast<size_t>(E));
    dequantize_row(*c.kernels, token_types_, 0, type0.data());  // segment A: llama.cpp has no segment-B input
    for (const SequenceSlice& s : batch.seqs) {
      for (int64_t t = 0; t < s.n; ++t) {
        const int64_t row = s.begin + t, position = s.pos0 + t;
        float* x = st.x.data() + row * E;
        dequantize_row(*c.kernels, tok_embd_, batch.tokens[row], x);
        for (int64_t i = 0; i < E; ++i) x[i] += type0[i];
        if (!nomic_) {
          if (position >= hp_.n_ctx_train) throw std::length_error("position beyond the encoder's learned positions");
          dequantize_row(*c.kernels, position_embd_, position, pos.data());
          for (int64_t i = 0; i < E; ++i) x[i] += pos[i];
        }
      }
    }
    norm_rows(c, st.x.data(), embd_norm_w_, embd_norm_b_, batch.n_tokens());
  }

  // LayerNorm of n rows in place, rows split across the pool's threads.
  void norm_rows(const Compute& c, float* x, const float* w, const float* b, int64_t n) const {
    const int64_t E = hp_.n_embd;
    c.pool->parallel_for(n, 1, [&](int64_t t0, int64_t t1) { layer_norm(x + t0 * E, w, b, t1 - t0, E, ln_eps_, x + t0 * E); });
  }

  // x[t] += (y[t] + bias) for n rows of width `width` (y or bias may be null), split across threads.
  static void add_rows(const Compute& c, float* x, const float* bias, const float* y, int64_t n, int64_t width) {
    c.pool->parallel_for(n, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        float* xr = x + t * width;
        const float* yr = y ? y + t * width : nullptr;
        if (yr && bias) for (int64_t i = 0; i < width; ++i) xr[i] += yr[i] + bias[i];
        else if (yr) for (int64_t i = 0; i < width; ++i) xr[i] += yr[i];
        else if (bias) for (int64_t i = 0; i < width; ++i) xr[i] += bias[i];
      }
    });
  }

  void attention(const Compute& c, const Layer& w, ForwardState& st, const Batch& batch, int64_t layer) const {
    const int64_t n = batch.n_tokens(), E = hp_.n_embd;
    float *x = st.x.data(), *h = st.h.data(), *q = st.q.data(), *k = st.k.data(), *v = st.v.data();
    if (nomic_) {
      matmul(c, w.wqkv, x, n, st.qkv.data());
      for (int64_t t = 0; t < n; ++t) {
        const float* row = st.qkv.data() + t * 3 * E;
        std::memcpy(q + t * E, row, sizeof(float) * E);
        std::memcpy(k + t * E, row + E, sizeof(float) * E);
        std::memcpy(v + t * E, row + 2 * E, sizeof(float) * E);
      }
    } else {
      matmul_shared_input(c, {&w.wq, &w.wk, &w.wv}, {q, k, v}, x, n);
      add_rows(c, q, w.bq, nullptr, n, E);
      add_rows(c, k, w.bk, nullptr, n, E);
      add_rows(c, v, w.bv, nullptr, n, E);
    }
    AttentionShape shape{hp_.n_head, hp_.n_head_kv, hp_.head_dim, hp_.head_dim_v, 1.f / std::sqrt(static_cast<float>(hp_.head_dim))};
    for (const SequenceSlice& s : batch.seqs) {
      float* qs = q + s.begin * E;
      float* ks = k + s.begin * E;
      if (rope_) {
        rope_->apply(qs, s.n, hp_.n_head, s.pos0);
        rope_->apply(ks, s.n, hp_.n_head_kv, s.pos0);
      }
      for (int64_t t = 0; t < s.n; ++t) s.cache->store(layer, s.pos0 + t, ks + t * E, v + (s.begin + t) * E);
      shape.causal = s.causal;
      fm::attention(c, shape, qs, *s.cache, layer, s.pos0, s.n, st.scores.data(), st.att.data() + s.begin * E);
    }
    matmul(c, w.wo, st.att.data(), n, h);
    add_rows(c, x, w.bo, h, n, E);  // x += (W_o a + b_o): the bias joins the residual sum, as ggml adds it first
    norm_rows(c, x, w.attn_norm_w, w.attn_norm_b, n);
  }

  void ffn(const Compute& c, const Layer& w, ForwardState& st, int64_t n) const {
    const int64_t E = hp_.n_embd, F = hp_.n_ff;
    float *x = st.x.data(), *a = st.ffn_a.data(), *b = st.ffn_b.data(), *h = st.h.data();
    if (nomic_) {
      matmul_shared_input(c, {&w.gate, &w.up}, {a, b}, x, n);
      c.pool->parallel_for(n, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t i = t0 * F; i < t1 * F; ++i) a[i] = a[i] / (1.f + std::exp(-a[i])) * b[i];  // silu(gate) * up, exact
      });
    } else {
      matmul(c, w.up, x, n, a);
      add_rows(c, a, w.b_up, nullptr, n, F);
      c.pool->parallel_for(n, 1, [&](int64_t t0, int64_t t1) { c.kernels->gelu(a + t0 * F, (t1 - t0) * F, a + t0 * F); });
    }
    matmul(c, w.down, a, n, h);
    add_rows(c, x, w.b_down, h, n, E);
    norm_rows(c, x, w.out_norm_w, w.out_norm_b, n);
  }

  bool nomic_;
  WeightBinder binder_;
  float ln_eps_ = 1e-12f;
  MatrixView tok_embd_, position_embd_;  // [n_vocab, E], [n_ctx_train, E]
  MatrixView token_types_;               // [n_token_types, E]; row 0 is added
  const float *embd_norm_w_ = nullptr, *embd_norm_b_ = nullptr;
  std::optional<Rope> rope_;
  std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_bert_model(const GgufFile& file) { return std::make_unique<BertModel>(file, "bert"); }
std::unique_ptr<Model> make_nomic_bert_model(const GgufFile& file) { return std::make_unique<BertModel>(file, "nomic-bert"); }

}  // namespace fm
