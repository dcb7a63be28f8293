// libFuzzer target: the safetensors reader and the diffusion checkpoint inspection that follows it. Input: file
// bytes. Parsing must end with an index whose every tensor lies inside the data, or a SafetensorsError; inferring
// the network sizes may refuse the tensors with std::runtime_error. Any other exception, a crash, a leak or UB is a
// bug.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "diffusion/checkpoint.h"
#include "diffusion/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<fm::SafetensorsIndex> index;
  try {
    index = std::make_unique<fm::SafetensorsIndex>(data, size);
  } catch (const fm::SafetensorsError&) {
    return 0;
  }
  volatile uint8_t sink = 0;
  for (const auto& [name, t] : index->tensors()) {
    const size_t bytes = static_cast<size_t>(t.elements()) * (t.type == fm::TensorType::F32 ? 4 : 2);
    if (t.data < data || t.data + bytes > data + size) __builtin_trap();
    if (bytes > 0) sink = sink + t.data[0] + t.data[bytes - 1];
  }
  try {
    fm::infer_sd_config(*index);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
