#include "vision/clip_hparams.h"

#include "gguf/gguf_file.h"

namespace fm {
namespace {

std::array<float, 3> read_triple(const GgufFile& file, const char* key) {
  const GgufValue* v = file.find(key);
  if (!v || v->type != GgufValueType::ARRAY || v->as_array().count != 3)
    throw GgufError(std::string(key) + " must be an array of 3 numbers");
  std::array<float, 3> out{};
  for (uint64_t i = 0; i < 3; ++i) out[i] = static_cast<float>(v->as_array().number(i));
  return out;
}

int64_t positive(const GgufFile& file, const char* key, int64_t max) {
  const int64_t v = file.get_int(key);
  if (v <= 0 || v > max) throw GgufError(std::string(key) + " is out of range");
  return v;
}

}  // namespace

ClipHParams read_clip_hparams(const GgufFile& file) {
  if (file.get_string_or("general.architecture", "") != "clip")
    throw GgufError("not a projector file: general.architecture is not 'clip'");
  if (!file.get_bool_or("clip.has_vision_encoder", false)) throw GgufError("the projector file has no vision encoder");
  ClipHParams hp;
  hp.projector = file.get_string("clip.projector_type");
  hp.image_size = positive(file, "clip.vision.image_size", 8192);
  hp.patch_size = positive(file, "clip.vision.patch_size", 256);
  hp.n_embd = positive(file, "clip.vision.embedding_length", 1 << 16);
  hp.n_ff = positive(file, "clip.vision.feed_forward_length", 1 << 18);
  hp.n_layer = positive(file, "clip.vision.block_count", 1024);
  hp.n_head = positive(file, "clip.vision.attention.head_count", 1024);
  hp.projection_dim = positive(file, "clip.vision.projection_dim", 1 << 17);
  hp.n_wa_pattern = file.get_int_or("clip.vision.n_wa_pattern", 0);
  if (hp.n_wa_pattern < 0 || hp.n_wa_pattern > hp.n_layer) throw GgufError("clip.vision.n_wa_pattern is out of range");
  hp.eps = static_cast<float>(file.get_float_or("clip.vision.attention.layer_norm_epsilon", 1e-6));
  hp.mean = read_triple(file, "clip.vision.image_mean");
  hp.std = read_triple(file, "clip.vision.image_std");
  for (float s : hp.std)
    if (!(s > 0)) throw GgufError("clip.vision.image_std must be positive");
  if (hp.n_embd % hp.n_head != 0) throw GgufError("clip.vision.embedding_length is not a multiple of the head count");
  return hp;
}

}  // namespace fm
