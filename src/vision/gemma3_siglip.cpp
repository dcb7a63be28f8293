// Gemma 3's vision tower (clip.projector_type "gemma3"): a SigLIP ViT over a 896 x 896 letterboxed image
// (14 px patches -> 64 x 64 = 4096 patches; LayerNorm with bias, biased q/k/v/o and FFN, GELU-tanh, learned
// position embeddings, post-LN), then the projector: 4 x 4 average pooling to 16 x 16 = 256 tokens, RMSNorm times
// mm.soft_emb_norm, and mm.input_projection to the text width.
#include <algorithm>

#include "gguf/gguf_file.h"
#include "image/resize.h"
#include "model/blocks.h"
#include "model/weights.h"
#include "tensor/kernels/kernel_table.h"
#include "vision/clip_hparams.h"
#include "vision/patch_embedding.h"
#include "vision/vision_registry.h"
#include "vision/vit_layer.h"

namespace fm {
namespace {

constexpr int64_t kPoolDefault = 4;

class Gemma3Siglip final : public VisionEncoder {
 public:
  explicit Gemma3Siglip(const GgufFile& file) : binder_(file) {
    hp_ = read_clip_hparams(file);
    pool_ = file.get_int_or("clip.vision.projector.scale_factor", kPoolDefault);
    side_ = hp_.image_size / hp_.patch_size;
    if (hp_.image_size % hp_.patch_size != 0 || pool_ <= 0 || side_ % pool_ != 0)
      throw GgufError("gemma3 projector: image_size / patch_size must be a multiple of the pooling factor");
    const int64_t E = hp_.n_embd, p = hp_.patch_size;
    shape_ = {E, hp_.n_ff, hp_.n_head, hp_.eps, VitNorm::kLayerNorm, VitFfn::kGelu};
    patch_w_ = binder_.flattened_matrix("v.patch_embd.weight", 3 * p * p, E);   // [n_embd, 3 * p * p]
    patch_b_ = binder_.vector("v.patch_embd.bias", E);
    pos_embd_ = binder_.lookup_matrix("v.position_embd.weight", E, side_ * side_);  // [n_patches, n_embd]
    for (int64_t l = 0; l < hp_.n_layer; ++l)
      layers_.push_back(bind_vit_layer(binder_, l, E, hp_.n_ff, VitNorm::kLayerNorm, VitFfn::kGelu));
    post_ln_w_ = binder_.vector("v.post_ln.weight", E);
    post_ln_b_ = binder_.vector("v.post_ln.bias", E);
    soft_emb_norm_ = binder_.vector("mm.soft_emb_norm.weight", E);
    // mm.input_projection is stored [n_embd_vision rows, n_embd_text cols] and used transposed: keep W^T.
    const MatrixView proj = binder_.lookup_matrix("mm.input_projection.weight", hp_.projection_dim, E);
    projection_t_.resize(static_cast<size_t>(hp_.projection_dim * E));
    std::vector<float> row(static_cast<size_t>(hp_.projection_dim));
    for (int64_t i = 0; i < E; ++i) {
      dequantize_row(best_kernels(), proj, i, row.data());
      for (int64_t j = 0; j < hp_.projection_dim; ++j) projection_t_[static_cast<size_t>(j * E + i)] = row[static_cast<size_t>(j)];
    }
    projection_ = {TensorType::F32, E, hp_.projection_dim, reinterpret_cast<const uint8_t*>(projection_t_.data()),
                   static_cast<size_t>(E) * sizeof(float), nullptr};
  }

  std::string projector_type() const override { return "gemma3"; }
  int64_t n_embd_text() const override { return hp_.projection_dim; }
  int64_t tokens_for(int, int) const override { return (side_ / pool_) * (side_ / pool_); }
  int64_t max_tokens() const override { return tokens_for(0, 0); }

  PreprocessedImage preprocess(const RgbImage& image) const override {
    PreprocessedImage out;
    out.resized = letterbox(image, static_cast<int>(hp_.image_size));
    out.pixels = normalize_pixels(out.resized, hp_.mean, hp_.std);
    return out;
  }

  ImageEmbedding encode(const Compute& c, const PreprocessedImage& image) const override {
    const int64_t E = hp_.n_embd, n = side_ * side_;
    if (image.resized.width != hp_.image_size || image.resized.height != hp_.image_size)
      throw ImageError("gemma3 encoder: the image is not preprocessed to its side");
    const std::vector<float> patches = image_patches(image.pixels.data(), hp_.image_size, hp_.image_size, hp_.patch_size);
    std::vector<float> x(static_cast<size_t>(n * E)), pos(static_cast<size_t>(E));
    linear(c, patch_w_, patch_b_, patches.data(), n, x.data());  // [n_patches, n_embd]
    for (int64_t t = 0; t < n; ++t) {
      dequantize_row(*c.kernels, pos_embd_, t, pos.data());
      add_inplace(x.data() + t * E, pos.data(), E);
    }
    VitScratch scratch;
    for (const VitLayerWeights& w : layers_) vit_layer(c, shape_, w, nullptr, {}, x.data(), n, scratch);
    layer_norm(x.data(), post_ln_w_, post_ln_b_, n, E, hp_.eps, x.data());

    // Average pool 4 x 4 patches -> [out_side * out_side, n_embd], token (py, px) row-major.
    const int64_t out_side = side_ / pool_, n_out = out_side * out_side;
    std::vector<float> pooled(static_cast<size_t>(n_out * E), 0.f);
    for (int64_t py = 0; py < out_side; ++py)
      for (int64_t px = 0; px < out_side; ++px) {
        float* o = pooled.data() + (py * out_side + px) * E;
        for (int64_t ky = 0; ky < pool_; ++ky)
          for (int64_t kx = 0; kx < pool_; ++kx) add_inplace(o, x.data() + ((py * pool_ + ky) * side_ + px * pool_ + kx) * E, E);
        scale_inplace(o, 1.f / static_cast<float>(pool_ * pool_), E);
      }
    rms_norm(pooled.data(), soft_emb_norm_, n_out, E, hp_.eps, pooled.data());
    ImageEmbedding out;
    out.n_tokens = n_out;
    out.n_embd = hp_.projection_dim;
    out.data.resize(static_cast<size_t>(n_out * hp_.projection_dim));
    matmul(c, projection_, pooled.data(), n_out, out.data.data());
    return out;
  }

 private:
  WeightBinder binder_;
  ClipHParams hp_;
  int64_t pool_ = kPoolDefault, side_ = 0;  // side_: patches per side
  VitShape shape_{};
  MatrixView patch_w_, pos_embd_, projection_;
  const float *patch_b_ = nullptr, *post_ln_w_ = nullptr, *post_ln_b_ = nullptr, *soft_emb_norm_ = nullptr;
  std::vector<VitLayerWeights> layers_;
  std::vector<float> projection_t_;  // [n_embd_text, n_embd_vision]
};

}  // namespace

std::unique_ptr<VisionEncoder> make_gemma3_siglip(const GgufFile& file) { return std::make_unique<Gemma3Siglip>(file); }

}  // namespace fm
