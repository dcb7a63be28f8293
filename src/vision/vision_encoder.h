#pragma once
// Vision encoders loaded from llama.cpp-style projector files (mmproj-*.gguf, general.architecture = "clip"):
// an image becomes a block of embeddings in the text model's width that the decoder reads in place of tokens.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "image/image.h"
#include "tensor/matmul.h"

namespace fm {

class GgufFile;

// The model-ready image: resized/padded pixels normalised per channel.
struct PreprocessedImage {
  RgbImage resized;            // the u8 image after resizing/padding (what the encoder sees, before normalising)
  std::vector<float> pixels;   // [height, width, 3] normalised
};

// An encoded image: embeddings for the text model and how the decoder places them.
struct ImageEmbedding {
  int64_t n_tokens = 0;
  int64_t n_embd = 0;
  // M-RoPE models: the tokens are a grid_ny x grid_nx raster (token k at row k / nx, column k % nx) and the whole
  // image advances the position counter by one. 0: plain consecutive positions.
  int64_t grid_nx = 0, grid_ny = 0;
  std::vector<float> data;  // [n_tokens, n_embd]
};

class VisionEncoder {
 public:
  virtual ~VisionEncoder() = default;
  virtual std::string projector_type() const = 0;
  // The text model's embedding width the projector writes.
  virtual int64_t n_embd_text() const = 0;
  virtual PreprocessedImage preprocess(const RgbImage& image) const = 0;
  // Image tokens an image of this size becomes (known before encoding, to check the context).
  virtual int64_t tokens_for(int width, int height) const = 0;
  // The most tokens one image can become.
  virtual int64_t max_tokens() const = 0;
  virtual ImageEmbedding encode(const Compute& c, const PreprocessedImage& image) const = 0;
  // Dynamic-resolution encoders (Qwen): caps the image's long side (0: the projector's image_size). Call before use;
  // fixed-size encoders (Gemma 3) ignore it.
  virtual void set_max_side(int /*max_side*/) {}
};

// Loads the encoder named by clip.projector_type ("gemma3", "qwen2.5vl_merger"). The file must outlive it.
std::unique_ptr<VisionEncoder> load_vision_encoder(const GgufFile& file);

}  // namespace fm
