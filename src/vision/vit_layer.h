#pragma once
// The transformer layer shared by the ViT encoders: x += attn(norm1(x)); x += ffn(norm2(x)) over the patches of
// one image, non-causal, optionally restricted to windows (contiguous ranges of patches attending only among
// themselves). Composed from the block library (norms, bias, activations) and the attention kernels.
#include <cstdint>
#include <utility>
#include <vector>

#include "tensor/matmul.h"

namespace fm {

class WeightBinder;

enum class VitNorm { kLayerNorm, kRmsNorm };
enum class VitFfn { kGelu, kSiluGated };  // down(gelu(up x)) | down(silu(gate x) * up x), biases included

struct VitLayerWeights {
  const float *ln1_w = nullptr, *ln1_b = nullptr;  // [n_embd]; no bias for RMSNorm
  MatrixView wq, wk, wv, wo;                       // [n_embd, n_embd]
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr, *bo = nullptr;  // [n_embd]
  const float *ln2_w = nullptr, *ln2_b = nullptr;  // [n_embd]
  MatrixView up, gate, down;                       // [n_ff, n_embd], [n_ff, n_embd] (gated only), [n_embd, n_ff]
  const float *up_b = nullptr, *gate_b = nullptr, *down_b = nullptr;
};

// Binds v.blk.<layer>.* (llama.cpp's clip tensor names).
VitLayerWeights bind_vit_layer(WeightBinder& b, int64_t layer, int64_t n_embd, int64_t n_ff, VitNorm norm, VitFfn ffn);

// 2-D rotary embedding of the Qwen-VL ViTs (ggml's "vision" M-RoPE): in each head of width d, pair (i, i + d/2)
// rotates by y * base^(-4i/d) for i < d/4 and by x * base^(-4(i - d/4)/d) for d/4 <= i < d/2.
struct VisionRope {
  std::vector<int32_t> y, x;  // [n_patches] patch row and column
  float base = 10000.f;
  void apply(float* v, int64_t n_tok, int64_t n_heads, int64_t head_dim) const;
};

struct VitShape {
  int64_t n_embd, n_ff, n_head;
  float eps;
  VitNorm norm;
  VitFfn ffn;
};

// Activations of one encoder pass, grown on first use.
struct VitScratch {
  std::vector<float> h, q, k, v, att, ffn_a, ffn_b;
  std::vector<float> scores;  // per thread: query block x keys, plus the block's queries
};

// One layer over x: [n, n_embd] in place. windows: [begin, end) ranges partitioning [0, n); empty = full attention.
void vit_layer(const Compute& c, const VitShape& shape, const VitLayerWeights& w, const VisionRope* rope,
               const std::vector<std::pair<int64_t, int64_t>>& windows, float* x, int64_t n, VitScratch& s);

// y = x W^T + b for a bias that may be null.
void linear(const Compute& c, const MatrixView& w, const float* b, const float* x, int64_t n, float* y);

}  // namespace fm
