#pragma once
// Encoders of 8-bit RGB images to the formats the image APIs return.
#include <cstdint>
#include <string>
#include <vector>

#include "image/image.h"

namespace fm {

std::vector<uint8_t> encode_png(const RgbImage& image);
std::vector<uint8_t> encode_jpeg(const RgbImage& image, int quality = 90);  // quality 1..100

}  // namespace fm
