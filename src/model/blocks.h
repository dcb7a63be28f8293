#pragma once
// Shared building blocks of the decoder families: norms, RoPE, attention over the KV cache, gated FFN
// activations. They know tensor shapes, not model structure. Shapes are row-major, rows = tokens.
#include <array>
#include <cstdint>
#include <vector>

#include "model/hparams.h"
#include "tensor/matmul.h"

namespace fm {

class KvCache;

// out[t, :] = x[t, :] / rms(x[t, :]) * w   x, out: [n_tok, dim], w: [dim]; out may be x.
void rms_norm(const float* x, const float* w, int64_t n_tok, int64_t dim, float eps, float* out);

// out[t, :] = (x[t, :] - mean) / sqrt(var + eps) * w + b (LayerNorm, biased variance; sums in double as ggml's
// norm). x, out: [n_tok, dim]; w, b: [dim] (b may be null); out may be x.
void layer_norm(const float* x, const float* w, const float* b, int64_t n_tok, int64_t dim, float eps, float* out);

// Rotary position embedding applied in place to every head of x: [n_tok, n_heads * head_dim];
// token t sits at position pos0 + t.
// freq_factors (optional, [n_rot / 2]) divide each pair's frequency (Llama 3 rope_freqs, Phi-3 LongRoPE);
// scaling follows ggml's rope_yarn (linear = frequencies / factor; YaRN blends per dimension and rescales).
class Rope {
 public:
  Rope(RopeLayout layout, int64_t n_rot, int64_t head_dim, float base, const RopeScaling& scaling = {},
       const float* freq_factors = nullptr);
  void apply(float* x, int64_t n_tok, int64_t n_heads, int64_t pos0) const;
  // M-RoPE (Qwen2-VL text models): rotation pair i takes its position from section s(i) of `sections`
  // (pairs per section: temporal, height, width, extra), cycling. Text positions are (p, p, p), where apply() is
  // the same rotation; an image grid nx wide puts token k at (p0, p0 + k / nx, p0 + k % nx).
  void set_sections(const std::vector<int64_t>& sections);
  bool has_sections() const { return !pair_section_.empty(); }
  void apply_grid(float* x, int64_t n_tok, int64_t n_heads, int64_t pos0, int64_t grid_nx) const;

 private:
  // Rotates every head of one token; pos: the position of each M-RoPE section (all equal without sections).
  void rotate(float* token, int64_t n_heads, const std::array<int64_t, 4>& pos) const;

  RopeLayout layout_;
  int64_t n_rot_, head_dim_;
  std::vector<double> inv_freq_;     // [n_rot / 2]: base^(-2i / n_rot) / freq_factor_i
  std::vector<double> extrapolate_;  // [n_rot / 2]: YaRN weight of the unscaled frequency (0 = fully scaled)
  double freq_scale_ = 1.0;          // 1 / scaling factor
  double magnitude_ = 1.0;           // YaRN attention magnitude correction on cos/sin
  std::vector<int> pair_section_;    // [n_rot / 2] M-RoPE section of each pair (0 = t, 1 = h, 2 = w, 3 = extra)
};

struct AttentionShape {
  int64_t n_head, n_head_kv, head_dim, head_dim_v;
  float scale;         // applied to q.k, usually 1/sqrt(head_dim)
  int64_t window = 0;  // sliding window: query at p sees keys (p - window, p]; 0 = every earlier key
  bool causal = true;  // false: every query of the call sees every key up to the call's last position
};

// Causal attention of n_tok queries at positions pos0.. over cache positions [0 or p - window + 1, p]
// (non-causal: p is the last of the n_tok positions for every query, as encoders and bidirectional embedders use).
// q: [n_tok, n_head * head_dim], out: [n_tok, n_head * head_dim_v]. The cache must already hold the
// keys/values of these tokens. scores: pool size * attention_scratch_floats() floats.
void attention(const Compute& c, const AttentionShape& shape, const float* q, const KvCache& cache, int64_t layer,
               int64_t pos0, int64_t n_tok, float* scores, float* out);
size_t attention_scratch_floats(const AttentionShape& shape, int64_t n_ctx);

// out[i] = gelu_tanh(gate[i]) * up[i], with GELU read from ggml-cpu's fp16 table (as llama.cpp evaluates it).
void geglu(const float* gate, const float* up, int64_t n, float* out);

// Per-row RMSNorm over groups of `dim` (per-head q/k norms): x: [n_rows, dim], w: [dim], in place.
void rms_norm_rows(float* x, const float* w, int64_t n_rows, int64_t dim, float eps);
// x[t, i] += b[i] for x: [n_tok, dim]
void add_bias(float* x, const float* b, int64_t n_tok, int64_t dim);
void scale_inplace(float* x, float s, int64_t n);

// x[i] += y[i]
void add_inplace(float* x, const float* y, int64_t n);

}  // namespace fm
