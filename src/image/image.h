#pragma once
// Decoded images and the decoders of outside image bytes. Every decoder refuses bad input (unknown format,
// corrupt or truncated data, zero size, a header claiming more pixels than allowed) with an ImageError whose
// message says what is wrong; none of them crashes.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fm {

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// 8-bit RGB, row-major, channels interleaved.
struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // [height, width, 3]

  const uint8_t* at(int x, int y) const { return pixels.data() + (static_cast<size_t>(y) * width + x) * 3; }
};

struct ImageLimits {
  int64_t max_pixels = int64_t{50} * 1000 * 1000;  // decompression bombs are refused before decoding
  int max_side = 16384;
};

enum class ImageFormat { kUnknown, kJpeg, kPng, kGif, kBmp, kWebp };
const char* image_format_name(ImageFormat f);
// The format named by the first bytes (magic numbers), kUnknown otherwise.
ImageFormat sniff_image_format(const uint8_t* data, size_t size);

// Decodes JPEG, PNG (alpha dropped, not composited, as llama.cpp's stb_image does), GIF (first frame), BMP and
// WebP to RGB.
RgbImage decode_image(const uint8_t* data, size_t size, const ImageLimits& limits = {});

}  // namespace fm
