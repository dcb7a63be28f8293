// The `qwen2vl` family (text side of Qwen2-VL and Qwen2.5-VL): qwen2 blocks with M-RoPE, whose rotation pairs take
// the temporal, height or width position by `rope.dimension_sections`. Text tokens sit at (p, p, p); an image's
// tokens at (p, p + row, p + column), and the image advances the position counter by one.
#include "gguf/gguf_file.h"
#include "model/dense_decoder.h"
#include "model/registry.h"

namespace fm {

std::unique_ptr<Model> make_qwen2vl_model(const GgufFile& file) {
  DenseDecoderSpec spec;
  spec.arch = "qwen2vl";
  spec.rope_layout = RopeLayout::kHalfSplit;
  spec.attention.biases = true;
  const GgufValue* v = file.find("qwen2vl.rope.dimension_sections");
  if (!v || v->type != GgufValueType::ARRAY || v->as_array().count < 3 || v->as_array().count > 4)
    throw GgufError("qwen2vl.rope.dimension_sections must be an array of 3 or 4 integers");
  spec.mrope_sections.assign(4, 0);
  for (uint64_t i = 0; i < v->as_array().count; ++i) {
    const int64_t s = v->as_array().integer(i);
    if (s < 0 || s > 4096) throw GgufError("qwen2vl.rope.dimension_sections is out of range");
    spec.mrope_sections[i] = s;
  }
  return make_dense_decoder(file, spec);
}

}  // namespace fm
