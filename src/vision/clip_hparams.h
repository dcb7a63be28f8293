#pragma once
// The clip.vision.* hyper-parameters of a projector file.
#include <array>
#include <cstdint>
#include <string>

namespace fm {

class GgufFile;

struct ClipHParams {
  std::string projector;     // clip.projector_type
  int64_t image_size = 0;    // side the encoder is trained for (Gemma 3: 896; Qwen: the long-side cap)
  int64_t patch_size = 0;
  int64_t n_embd = 0;        // ViT width
  int64_t n_ff = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t projection_dim = 0;  // text model width
  int64_t n_wa_pattern = 0;    // Qwen2.5-VL: every n-th layer attends fully, the others within windows
  float eps = 1e-6f;
  std::array<float, 3> mean{}, std{};

  int64_t head_dim() const { return n_embd / n_head; }
};

// Reads and checks the keys; throws GgufError naming the bad one.
ClipHParams read_clip_hparams(const GgufFile& file);

}  // namespace fm
