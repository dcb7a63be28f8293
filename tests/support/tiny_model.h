#pragma once
// A tiny but complete `llama` GGUF built with GgufWriter: SPM vocabulary, Q8_0 projections, F32 norms,
// a nested-array metadata key. Small enough to corrupt exhaustively.
#include <cstdint>
#include <vector>

#include "gguf/gguf_writer.h"

namespace fm::test {

std::vector<uint8_t> build_tiny_llama(std::vector<GgufFieldMark>* marks = nullptr);

}  // namespace fm::test
