#pragma once
// The layers of the diffusion networks, over feature maps stored channels-last ([height * width, channels], one
// row per pixel) so that convolutions (im2col + the shared matrix products) and the transformer blocks both see
// rows of tokens. Numerics follow ggml where stable-diffusion.cpp's results depend on it: GroupNorm sums in
// double, GELU and quick GELU read from fp16 tables.
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "diffusion/tensor_source.h"
#include "tensor/matmul.h"

namespace fm {


struct FeatureMap {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<float> data;  // [height * width, channels]

  int64_t pixels() const { return height * width; }
  void resize(int64_t h, int64_t w, int64_t c) {
    height = h, width = w, channels = c;
    data.resize(static_cast<size_t>(h * w * c));
  }
};

struct Linear {
  MatrixView w;              // [n_out, n_in]
  const float* b = nullptr;  // [n_out] or null
  // F16 weights also repacked into panels of 16 outputs ([n_in][16] each, f16_panel_gemm's layout), the faster route
  // for the many-token products of the UNet's transformers.
  const uint16_t* panels = nullptr;
};

struct Conv2d {
  // The kernel [c_out, c_in * k * k] (columns ordered (c_in, ky, kx) as PyTorch stores kernels) in F16 panels of 16
  // output channels, each [c_in * k * k][16] (f16_panel_gemm's layout; channels past c_out are zero).
  const uint16_t* panels = nullptr;
  const float* b = nullptr;  // [c_out]
  int64_t c_in = 0, c_out = 0, kernel = 1, stride = 1;  // padding is kernel / 2
  int64_t columns() const { return c_in * kernel * kernel; }
};

struct Norm {
  const float* w = nullptr;  // [channels] gain
  const float* b = nullptr;  // [channels] bias
};

// Binds checkpoint tensors, checking each one's presence and shape with an error that names it. F32 and F16
// matrices are used in place; BF16 ones, and every vector that is not F32, become f32 copies the binder owns.
// Convolution kernels are F16 (copies of F32 ones).
class DiffusionWeights {
 public:
  explicit DiffusionWeights(const TensorSource& source) : source_(source) {}
  Linear linear(const std::string& prefix, int64_t n_out, int64_t n_in, bool bias = true);
  // For layouts whose weight and bias names do not share a prefix (open_clip's in_proj_weight / in_proj_bias).
  Linear linear_named(const std::string& weight, const std::string& bias, int64_t n_out, int64_t n_in);
  Conv2d conv(const std::string& prefix, int64_t c_out, int64_t c_in, int64_t kernel, int64_t stride = 1);
  Norm norm(const std::string& prefix, int64_t channels);
  MatrixView matrix(const std::string& name, const std::vector<int64_t>& shape);  // rows = shape[0]
  const float* vector(const std::string& name, int64_t n) { return values(name, {n}); }
  const float* values(const std::string& name, const std::vector<int64_t>& shape);  // as f32, any rank

 private:
  const TensorRef& require(const std::string& name, const std::vector<int64_t>& shape);
  const uint16_t* pack_panels(const MatrixView& w);  // F16 copy in panels of 16 rows, owned here
  // Once panels replace a tensor the file's pages of it are dropped (RSS holds one copy of each kernel).
  void release_packed(const std::string& name, const MatrixView& w);
  const TensorSource& source_;
  std::deque<std::vector<float>> owned_;
  std::deque<std::vector<uint16_t>> owned_half_;
  std::deque<std::vector<uint8_t>> owned_bytes_;  // tensors the file stores at unaligned offsets
  std::deque<TensorRef> aligned_refs_;
};

// Per-call working memory of the layers, grown on first use.
struct NnScratch {
  std::vector<float> columns;  // im2col rows of one chunk of output pixels
  std::vector<float> scores;   // attention: per thread, a block of queries' scores and the queries
};

void linear(const Compute& c, const Linear& l, const float* x, int64_t n, float* y);

// out: [out_h * out_w, c_out] for in: [h * w, c_in]; out_h = (h + 2 * pad - k) / stride + 1.
void conv2d(const Compute& c, const Conv2d& conv, const FeatureMap& in, FeatureMap& out, NnScratch& s);

// GroupNorm over `groups` groups of consecutive channels (statistics over all pixels of a group), then the gain
// and bias, then SiLU when asked. x and out: [n_pixels, channels]; out may be x.
void group_norm(const Compute& c, const float* x, int64_t n_pixels, int64_t channels, int64_t groups, float eps,
                const Norm& norm, bool silu, float* out);

// Nearest-neighbour 2x upsampling.
void upsample2x(const FeatureMap& in, FeatureMap& out);

// Multi-head attention: q: [n_q, n_head * d], k and v: [n_kv, n_head * d], out: [n_q, n_head * d]; scale 1/sqrt(d).
// causal: query i sees keys 0..i only.
void multi_head_attention(const Compute& c, const float* q, int64_t n_q, const float* k, const float* v, int64_t n_kv,
                          int64_t n_head, int64_t d, bool causal, float* out, NnScratch& s);

void silu_inplace(float* x, int64_t n);
// x * sigmoid(1.702 x) read from ggml's fp16 table, as its quick GELU evaluates it.
void quick_gelu_inplace(float* x, int64_t n);

// The sinusoidal timestep embedding of the LDM UNet: [cos(t f_0) .. cos(t f_{h-1}), sin(t f_0) .. sin(t f_{h-1})],
// f_j = 10000^(-j / h), h = dim / 2.
std::vector<float> timestep_embedding(float t, int64_t dim);

// [h * w, c] channels-last <-> [c, h, w] planar (the NCHW layout of latents and of the fixtures' dumps).
std::vector<float> to_planar(const FeatureMap& m);
FeatureMap from_planar(const float* planar, int64_t channels, int64_t height, int64_t width);

}  // namespace fm
