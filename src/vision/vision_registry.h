#pragma once
// One factory per encoder family; load_vision_encoder picks by clip.projector_type.
#include <memory>

#include "vision/vision_encoder.h"

namespace fm {

std::unique_ptr<VisionEncoder> make_gemma3_siglip(const GgufFile& file);
std::unique_ptr<VisionEncoder> make_qwen25_vision_encoder(const GgufFile& file);

}  // namespace fm
