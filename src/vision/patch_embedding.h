#pragma once
// Patch embedding: a stride-p p x p convolution over the image, computed as one matrix product of the patches
// (im2col) with the kernel viewed as a matrix.
#include <cstdint>
#include <vector>

#include "tensor/matmul.h"

namespace fm {

// pixels: [height, width, 3] normalised; patches are taken row-major (patch (py, px) -> row py * (width/p) + px).
// Returns the im2col matrix [n_patches, 3 * p * p], columns ordered (channel, ky, kx) as ggml's conv kernel
// [p, p, 3, n_embd] (kx fastest) is laid out.
std::vector<float> image_patches(const float* pixels, int64_t width, int64_t height, int64_t patch);

}  // namespace fm
