#pragma once
// stb_image (Debian's libstb-dev) behind a narrow interface, in its own translation unit: the decoder llama.cpp
// uses, so decoded pixels match it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fm {

// Size from the headers; false with *error set when stb_image cannot read them.
bool stb_info(const uint8_t* data, size_t size, int* w, int* h, std::string* error);
// RGB pixels (alpha dropped); false with *error set on failure.
bool stb_decode_rgb(const uint8_t* data, size_t size, int* w, int* h, std::vector<uint8_t>* pixels, std::string* error);

}  // namespace fm
