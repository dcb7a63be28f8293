#include "vision/patch_embedding.h"

namespace fm {

std::vector<float> image_patches(const float* pixels, int64_t width, int64_t height, int64_t patch) {
  const int64_t nx = width / patch, ny = height / patch, cols = 3 * patch * patch;
  std::vector<float> out(static_cast<size_t>(nx * ny * cols));
  for (int64_t py = 0; py < ny; ++py)
    for (int64_t px = 0; px < nx; ++px) {
      float* row = out.data() + (py * nx + px) * cols;
      for (int64_t ch = 0; ch < 3; ++ch)
        for (int64_t ky = 0; ky < patch; ++ky)
          for (int64_t kx = 0; kx < patch; ++kx)
            row[(ch * patch + ky) * patch + kx] = pixels[((py * patch + ky) * width + px * patch + kx) * 3 + ch];
    }
  return out;
}

}  // namespace fm
