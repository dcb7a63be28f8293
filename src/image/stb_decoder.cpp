#include "image/stb_decoder.h"

#include <memory>

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_GIF
#define STBI_ONLY_BMP
// Warnings inside a system header we cannot change are silenced for this file only.
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <stb/stb_image.h>

namespace fm {

bool stb_info(const uint8_t* data, size_t size, int* w, int* h, std::string* error) {
  int channels = 0;
  if (stbi_info_from_memory(data, static_cast<int>(size), w, h, &channels)) return true;
  *error = stbi_failure_reason();
  return false;
}

bool stb_decode_rgb(const uint8_t* data, size_t size, int* w, int* h, std::vector<uint8_t>* pixels, std::string* error) {
  int channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(stbi_load_from_memory(data, static_cast<int>(size), w, h, &channels, 3),
                                                    stbi_image_free);
  if (!decoded) {
    *error = stbi_failure_reason();
    return false;
  }
  pixels->assign(decoded.get(), decoded.get() + static_cast<size_t>(*w) * static_cast<size_t>(*h) * 3);
  return true;
}

}  // namespace fm
