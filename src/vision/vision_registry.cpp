#include "vision/vision_registry.h"

#include "gguf/gguf_file.h"

namespace fm {

std::unique_ptr<VisionEncoder> load_vision_encoder(const GgufFile& file) {
  if (file.get_string_or("general.architecture", "") != "clip")
    throw GgufError("not a projector file: general.architecture is not 'clip'");
  const std::string type = file.get_string("clip.projector_type");
  if (type == "gemma3") return make_gemma3_siglip(file);
  if (type == "qwen2.5vl_merger") return make_qwen25_vision_encoder(file);
  throw GgufError("projector type '" + type + "' is not supported (supported: gemma3, qwen2.5vl_merger)");
}

}  // namespace fm
