// libFuzzer target: dataset rows, as validation and batch runs read them. Input: one byte choosing the task type,
// then the row. Reading must end with the row's messages or a RowError (any other exception escaping is a bug);
// crashes, leaks and UB are bugs (built with ASan/UBSan).
#include <cstddef>
#include <cstdint>
#include <string>

#include "service/dataset_rows.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& types = fm::dataset_task_types();
  const std::string& type = types[data[0] % types.size()];
  const std::string row(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    const std::vector<fm::Message> messages = fm::parse_generation_row(type, row);
    if (messages.empty()) __builtin_trap();  // a row that reads must have at least its user message
    fm::check_row_images(messages);          // decodes the row's images, as validation does
  } catch (const fm::RowError&) {
  }
  return 0;
}
