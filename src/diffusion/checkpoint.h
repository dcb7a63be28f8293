#pragma once
// Opens a Stable Diffusion single-file checkpoint (safetensors, or GGUF with the same LDM tensor names) and reads
// its network sizes from the tensors' shapes.
#include <memory>
#include <string>

#include "diffusion/sd_config.h"
#include "diffusion/tensor_source.h"

namespace fm {

struct SdCheckpoint {
  std::unique_ptr<TensorSource> tensors;
  SdConfig config;
};

// Throws std::runtime_error naming the file and what is wrong (unreadable, not SD 1.x, missing tensors).
SdCheckpoint open_sd_checkpoint(const std::string& path);

// The SD 1.x configuration whose shapes these tensors have (widths, layer counts); throws when a tensor the
// inference needs is missing or the layout is of another family.
SdConfig infer_sd_config(const TensorSource& tensors);

}  // namespace fm
