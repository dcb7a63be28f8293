// Qwen2.5-VL's vision tower (clip.projector_type "qwen2.5vl_merger"): dynamic resolution (sides rounded up to
// multiples of 28 px, long side capped at image_size), two 14 x 14 patch convolutions over the two temporal slices
// of a still image (the same pixels; summed, no bias), RMSNorm, 2-D M-RoPE, attention within 112 px windows except
// in every n_wa_pattern-th layer, SiLU-gated FFN, and the 2 x 2 patch merger (mm.0, GELU, mm.2) to the text width.
//
// Patches are processed in merge-unit order (the four patches of each 2 x 2 unit together) with the units of a
// window contiguous, so a window is a range of rows; the merged tokens are put back in raster order at the end.
#include <algorithm>
#include <stdexcept>

#include "gguf/gguf_file.h"
#include "image/resize.h"
#include "model/blocks.h"
#include "model/weights.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"
#include "vision/clip_hparams.h"
#include "vision/patch_embedding.h"
#include "vision/vision_registry.h"
#include "vision/vit_layer.h"

namespace fm {
namespace {

constexpr int64_t kMerge = 2;           // patches per side of a merged token
constexpr int64_t kWindowPixels = 112;  // attention window side

class Qwen25VisionEncoder final : public VisionEncoder {
 public:
  explicit Qwen25VisionEncoder(const GgufFile& file) : binder_(file) {
    hp_ = read_clip_hparams(file);
    const int64_t E = hp_.n_embd, p = hp_.patch_size;
    if (hp_.head_dim() % 4 != 0) throw GgufError("qwen2.5vl projector: the head width must be a multiple of 4");
    shape_ = {E, hp_.n_ff, hp_.n_head, hp_.eps, VitNorm::kRmsNorm, VitFfn::kSiluGated};
    patch_w_[0] = binder_.flattened_matrix("v.patch_embd.weight", 3 * p * p, E);
    patch_w_[1] = binder_.flattened_matrix("v.patch_embd.weight.1", 3 * p * p, E);
    for (int64_t l = 0; l < hp_.n_layer; ++l)
      layers_.push_back(bind_vit_layer(binder_, l, E, hp_.n_ff, VitNorm::kRmsNorm, VitFfn::kSiluGated));
    post_ln_ = binder_.vector("v.post_ln.weight", E);
    merger_in_ = binder_.matrix("mm.0.weight", 4 * E, 4 * E);
    merger_in_b_ = binder_.vector("mm.0.bias", 4 * E);
    merger_out_ = binder_.matrix("mm.2.weight", 4 * E, hp_.projection_dim);
    merger_out_b_ = binder_.vector("mm.2.bias", hp_.projection_dim);
    max_side_ = static_cast<int>(hp_.image_size);
  }

  std::string projector_type() const override { return "qwen2.5vl_merger"; }
  void set_max_side(int max_side) override {
    if (max_side < 0) throw std::invalid_argument("the image side cap must be positive");
    max_side_ = max_side > 0 ? max_side : static_cast<int>(hp_.image_size);
  }
  int64_t n_embd_text() const override { return hp_.projection_dim; }

  int64_t tokens_for(int width, int height) const override {
    const auto [w, h] = aligned_size(width, height, static_cast<int>(kMerge * hp_.patch_size), max_side_);
    const int64_t unit = kMerge * hp_.patch_size;
    return (w / unit) * (h / unit);
  }

  int64_t max_tokens() const override {
    return tokens_for(max_side_, max_side_);
  }

  PreprocessedImage preprocess(const RgbImage& image) const override {
    const auto [w, h] = aligned_size(image.width, image.height, static_cast<int>(kMerge * hp_.patch_size), max_side_);
    PreprocessedImage out;
    out.resized = resize_bicubic(image, w, h);
    out.pixels = normalize_pixels(out.resized, hp_.mean, hp_.std);
    return out;
  }

  ImageEmbedding encode(const Compute& c, const PreprocessedImage& image) const override {
    const int64_t E = hp_.n_embd, p = hp_.patch_size, unit = kMerge * p;
    const int64_t W = image.resized.width, H = image.resized.height;
    if (W % unit != 0 || H % unit != 0) throw ImageError("qwen2.5vl encoder: the image is not preprocessed to its grid");
    const int64_t ipw = W / p, n = ipw * (H / p);  // patches per row, patches
    const int64_t pw = W / unit, ph = H / unit, n_units = pw * ph;

    // Merge units in window order: order[k] = raster index of the k-th unit processed; windows as row ranges.
    std::vector<int64_t> order;
    std::vector<std::pair<int64_t, int64_t>> windows;
    const int64_t grid_window = hp_.n_wa_pattern > 0 ? kWindowPixels / unit : std::max(pw, ph);
    for (int64_t y = 0; y < ph; y += grid_window)
      for (int64_t x = 0; x < pw; x += grid_window) {
        const int64_t begin = static_cast<int64_t>(order.size()) * kMerge * kMerge;
        for (int64_t dy = 0; dy < std::min(grid_window, ph - y); ++dy)
          for (int64_t dx = 0; dx < std::min(grid_window, pw - x); ++dx) order.push_back((y + dy) * pw + x + dx);
        windows.emplace_back(begin, static_cast<int64_t>(order.size()) * kMerge * kMerge);
      }

    // Patch embeddings (both temporal kernels on the same pixels, summed), raster order: [n, E].
    const std::vector<float> patches = image_patches(image.pixels.data(), W, H, p);
    std::vector<float> raster(static_cast<size_t>(n * E)), second(static_cast<size_t>(n * E));
    matmul(c, patch_w_[0], patches.data(), n, raster.data());
    matmul(c, patch_w_[1], patches.data(), n, second.data());
    add_inplace(raster.data(), second.data(), n * E);

    // Sequence order and 2-D positions.
    std::vector<float> x(static_cast<size_t>(n * E));
    VisionRope rope;
    rope.y.resize(static_cast<size_t>(n));
    rope.x.resize(static_cast<size_t>(n));
    for (int64_t k = 0; k < n_units; ++k) {
      const int64_t uy = order[static_cast<size_t>(k)] / pw, ux = order[static_cast<size_t>(k)] % pw;
      for (int64_t d = 0; d < kMerge * kMerge; ++d) {
        const int64_t py = uy * kMerge + d / kMerge, px = ux * kMerge + d % kMerge, s = k * kMerge * kMerge + d;
        std::copy_n(raster.data() + (py * ipw + px) * E, E, x.data() + s * E);
        rope.y[static_cast<size_t>(s)] = static_cast<int32_t>(py);
        rope.x[static_cast<size_t>(s)] = static_cast<int32_t>(px);
      }
    }

    VitScratch scratch;
    const std::vector<std::pair<int64_t, int64_t>> full;
    for (int64_t l = 0; l < hp_.n_layer; ++l) {
      const bool full_attention = hp_.n_wa_pattern == 0 || (l + 1) % hp_.n_wa_pattern == 0;
      vit_layer(c, shape_, layers_[static_cast<size_t>(l)], &rope, full_attention ? full : windows, x.data(), n, scratch);
    }
    rms_norm(x.data(), post_ln_, n, E, hp_.eps, x.data());

    // Merger: each unit's four patches concatenated [n_units, 4E] -> mm.0 -> GELU -> mm.2.
    std::vector<float> hidden(static_cast<size_t>(n_units * 4 * E)), merged(static_cast<size_t>(n_units * hp_.projection_dim));
    linear(c, merger_in_, merger_in_b_, x.data(), n_units, hidden.data());
    c.kernels->gelu(hidden.data(), static_cast<int64_t>(hidden.size()), hidden.data());
    linear(c, merger_out_, merger_out_b_, hidden.data(), n_units, merged.data());

    ImageEmbedding out;
    out.n_tokens = n_units;
    out.n_embd = hp_.projection_dim;
    out.grid_nx = pw;
    out.grid_ny = ph;
    out.data.resize(merged.size());
    for (int64_t k = 0; k < n_units; ++k)
      std::copy_n(merged.data() + k * hp_.projection_dim, hp_.projection_dim,
                  out.data.data() + order[static_cast<size_t>(k)] * hp_.projection_dim);
    return out;
  }

 private:
  WeightBinder binder_;
  ClipHParams hp_;
  VitShape shape_{};
  MatrixView patch_w_[2];  // [n_embd, 3 * p * p] per temporal slice
  std::vector<VitLayerWeights> layers_;
  const float* post_ln_ = nullptr;
  MatrixView merger_in_, merger_out_;  // [4E, 4E], [n_embd_text, 4E]
  const float *merger_in_b_ = nullptr, *merger_out_b_ = nullptr;
  int max_side_ = 0;  // long-side cap before rounding up to the merge grid
};

}  // namespace

std::unique_ptr<VisionEncoder> make_qwen25_vision_encoder(const GgufFile& file) {
  return std::make_unique<Qwen25VisionEncoder>(file);
}

}  // namespace fm
