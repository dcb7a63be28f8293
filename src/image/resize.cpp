#include "image/resize.h"

#include <algorithm>
#include <cmath>

namespace fm {
namespace {

int clamp_index(int v, int hi) { return std::max(0, std::min(v, hi)); }

// The cubic through p[-1], p[0], p[1], p[2] at offset d from p[0]; coefficients in double, rounded to float, then
// evaluated in float (the arithmetic of llama.cpp's bicubic_resize).
float cubic(float pm1, float p0, float p1, float p2, float d) {
  const float d0 = pm1 - p0, d2 = p1 - p0, d3 = p2 - p0;
  const float a1 = static_cast<float>(-1.0 / 3 * d0 + d2 - 1.0 / 6 * d3);
  const float a2 = static_cast<float>(1.0 / 2 * d0 + 1.0 / 2 * d2);
  const float a3 = static_cast<float>(-1.0 / 6 * d0 - 1.0 / 2 * d2 + 1.0 / 6 * d3);
  return p0 + a1 * d + a2 * d * d + a3 * d * d * d;
}

}  // namespace

RgbImage resize_bicubic(const RgbImage& src, int width, int height) {
  if (width <= 0 || height <= 0 || src.width <= 0 || src.height <= 0) throw ImageError("cannot resize to zero size");
  RgbImage dst;
  dst.width = width;
  dst.height = height;
  dst.pixels.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  const int nx = src.width, ny = src.height;
  const float tx = static_cast<float>(nx) / static_cast<float>(width);
  const float ty = static_cast<float>(ny) / static_cast<float>(height);
  for (int i = 0; i < height; ++i) {
    const int y = static_cast<int>(ty * static_cast<float>(i));
    const float dy = ty * static_cast<float>(i) - static_cast<float>(y);
    for (int j = 0; j < width; ++j) {
      const int x = static_cast<int>(tx * static_cast<float>(j));
      const float dx = tx * static_cast<float>(j) - static_cast<float>(x);
      for (int k = 0; k < 3; ++k) {
        float column[4];
        for (int jj = 0; jj < 4; ++jj) {
          const int row = clamp_index(y - 1 + jj, ny - 1);
          auto px = [&](int xx) { return static_cast<float>(src.at(clamp_index(xx, nx - 1), row)[k]); };
          column[jj] = cubic(px(x - 1), px(x), px(x + 1), px(x + 2), dx);
        }
        const float v = cubic(column[0], column[1], column[2], column[3], dy);
        dst.pixels[(static_cast<size_t>(i) * width + j) * 3 + k] =
            static_cast<uint8_t>(std::min(std::max(std::round(v), 0.0f), 255.0f));
      }
    }
  }
  return dst;
}

RgbImage letterbox(const RgbImage& src, int side, int* offset_x, int* offset_y) {
  const float scale_w = static_cast<float>(side) / static_cast<float>(src.width);
  const float scale_h = static_cast<float>(side) / static_cast<float>(src.height);
  int w = side, h = side;
  if (scale_w < scale_h) h = std::min(static_cast<int>(std::ceil(static_cast<float>(src.height) * scale_w)), side);
  else w = std::min(static_cast<int>(std::ceil(static_cast<float>(src.width) * scale_h)), side);
  const RgbImage scaled = resize_bicubic(src, w, h);
  RgbImage out;
  out.width = out.height = side;
  out.pixels.assign(static_cast<size_t>(side) * static_cast<size_t>(side) * 3, 0);
  const int ox = (side - w) / 2, oy = (side - h) / 2;
  for (int y = 0; y < h; ++y)
    std::copy_n(scaled.at(0, y), static_cast<size_t>(w) * 3, out.pixels.data() + (static_cast<size_t>(y + oy) * side + ox) * 3);
  if (offset_x) *offset_x = ox;
  if (offset_y) *offset_y = oy;
  return out;
}

std::array<int, 2> aligned_size(int width, int height, int align, int max_side) {
  const float scale = std::min(1.0f, std::min(static_cast<float>(max_side) / static_cast<float>(width),
                                               static_cast<float>(max_side) / static_cast<float>(height)));
  auto up = [&](float v) {
    const int t = static_cast<int>(v);
    return std::max(align, (t + align - 1) / align * align);
  };
  return {up(static_cast<float>(width) * scale), up(static_cast<float>(height) * scale)};
}

std::vector<float> normalize_pixels(const RgbImage& img, const std::array<float, 3>& mean, const std::array<float, 3>& std) {
  std::vector<float> out(img.pixels.size());
  for (size_t i = 0; i < img.pixels.size(); ++i) {
    const size_t c = i % 3;
    out[i] = (static_cast<float>(img.pixels[i]) / 255.0f - mean[c]) / std[c];
  }
  return out;
}

}  // namespace fm
