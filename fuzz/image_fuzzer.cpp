// libFuzzer target: image decoding (JPEG, PNG, GIF, BMP, WebP) and the preprocessing that follows it. Input: image
// bytes. Decoding must end with an image within the limits or an ImageError (any other exception escaping is a
// bug); a decoded image is then letterboxed and resized as the encoders do. Crashes, leaks and UB are bugs.
#include <cstddef>
#include <cstdint>

#include "image/image.h"
#include "image/resize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fm::ImageLimits limits;
  limits.max_pixels = 4 << 20;  // keeps each run fast; the bound itself is what is exercised
  fm::RgbImage img;
  try {
    img = fm::decode_image(data, size, limits);
  } catch (const fm::ImageError&) {
    return 0;
  }
  if (img.width <= 0 || img.height <= 0 || img.pixels.size() != static_cast<size_t>(img.width) * img.height * 3) __builtin_trap();
  const fm::RgbImage boxed = fm::letterbox(img, 28);
  const auto [w, h] = fm::aligned_size(img.width, img.height, 28, 112);
  const fm::RgbImage resized = fm::resize_bicubic(img, w, h);
  const auto pixels = fm::normalize_pixels(resized, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f});
  if (boxed.width != 28 || pixels.size() != static_cast<size_t>(w) * h * 3) __builtin_trap();
  return 0;
}
