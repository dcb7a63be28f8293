#pragma once
// AMX tile configurations shared by the packed GEMM kernels. A thread keeps one configuration loaded and
// reloads only when the next kernel needs the other one.
#include <cstdint>

namespace fm {

constexpr int kAmxTokens = 16;  // token rows of an A tile

// kInt8: tmm0/1 int32 sums [16 tokens][16 rows]; tmm2/3: A (activations, 16 x 32 bytes) and B (weights, 8 x 64)
//        of a 32-column block.
// kBf16: tmm0-3 f32 sums of 2 token tiles x 2 row groups; tmm4/5 activations hi/lo; tmm6/7 weights hi/lo.
enum class TileUse : uint8_t { kNone, kInt8, kBf16 };

// Loads `use`'s configuration on the calling thread unless it is the one loaded. Loading clears the tiles; every
// kernel starts from zeroed or loaded sums.
void configure_tiles(TileUse use);

}  // namespace fm
