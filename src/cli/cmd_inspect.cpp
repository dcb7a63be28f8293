// `fmserve inspect MODEL.gguf`: metadata and tensor table.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "gguf/gguf_file.h"

namespace fm::cli {

int run_inspect(const InspectOptions& opt) {
  auto file = GgufFile::open(opt.model);
  std::cout << "GGUF v" << file->version() << ", " << file->file_size() << " bytes, alignment " << file->alignment()
            << ", data at " << file->data_offset() << "\n";
  std::cout << "metadata (" << file->metadata().size() << "):\n";
  for (const auto& [key, value] : file->metadata())
    std::cout << "  " << key << " = " << value.to_display(opt.max_items) << "\n";
  std::cout << "tensors (" << file->tensors().size() << "):\n";
  for (const auto& t : file->tensors()) {
    std::cout << "  " << t.name << "  " << tensor_type_name(t.type) << "  " << t.shape_string() << "  offset "
              << t.offset << "  " << t.n_bytes << " bytes\n";
  }
  return 0;
}

}  // namespace fm::cli
