#include "image/encode.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_image_write.h>

namespace fm {
namespace {

void append(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

void check(const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * 3)
    throw ImageError("cannot encode an empty or inconsistent image");
}

}  // namespace

std::vector<uint8_t> encode_png(const RgbImage& image) {
  check(image);
  std::vector<uint8_t> out;
  if (!stbi_write_png_to_func(append, &out, image.width, image.height, 3, image.pixels.data(), image.width * 3))
    throw ImageError("PNG encoding failed");
  return out;
}

std::vector<uint8_t> encode_jpeg(const RgbImage& image, int quality) {
  check(image);
  std::vector<uint8_t> out;
  if (!stbi_write_jpg_to_func(append, &out, image.width, image.height, 3, image.pixels.data(), quality))
    throw ImageError("JPEG encoding failed");
  return out;
}

}  // namespace fm
