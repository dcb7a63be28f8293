#pragma once
// Resizing as llama.cpp's clip preprocessing does it, bit for bit: its own bicubic filter (source coordinate
// dst * (src / dst) in float32 without a half-pixel offset, clamp-to-edge, a cubic through four samples along x
// then y, rounded to u8), letterboxing on a black square, and sizes aligned to a multiple of the patch grid.
#include <array>

#include "image/image.h"

namespace fm {

RgbImage resize_bicubic(const RgbImage& src, int width, int height);

// Scales so the long side is `side`, keeping the aspect ratio (the short side rounded up), and centres the result
// on a black side x side canvas. offset_x/offset_y (optional) receive where the scaled image sits.
RgbImage letterbox(const RgbImage& src, int side, int* offset_x = nullptr, int* offset_y = nullptr);

// Sides scaled by min(1, max_side / w, max_side / h), truncated, then rounded up to a multiple of `align`.
std::array<int, 2> aligned_size(int width, int height, int align, int max_side);

// (u8 / 255 - mean[c]) / std[c] per channel in float32: [height, width, 3].
std::vector<float> normalize_pixels(const RgbImage& img, const std::array<float, 3>& mean, const std::array<float, 3>& std);

}  // namespace fm
