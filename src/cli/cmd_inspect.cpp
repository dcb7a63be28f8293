// `fmserve inspect MODEL.gguf`: metadata and tensor table.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "gguf/gguf_file.h"
#include "tensor/fp16.h"

namespace fm::cli {

namespace {

int dump_tensor(const GgufFile& file, const std::string& name) {
  const GgufTensorInfo* t = file.find_tensor(name);
  if (!t) throw std::invalid_argument("no tensor '" + name + "'");
  if (t->type != TensorType::F32 && t->type != TensorType::F16) throw std::invalid_argument("only F32 and F16 tensors can be dumped");
  nlohmann::json values = nlohmann::json::array();
  for (int64_t i = 0; i < t->n_elements(); ++i)
    values.push_back(t->type == TensorType::F32 ? reinterpret_cast<const float*>(t->data)[i]
                                                : fp16_to_fp32(reinterpret_cast<const uint16_t*>(t->data)[i]));
  std::cout << nlohmann::json{{"name", name}, {"dims", std::vector<int64_t>(t->ne, t->ne + t->n_dims)}, {"values", values}}.dump()
            << std::endl;
  return 0;
}

}  // namespace

int run_inspect(const InspectOptions& opt) {
  auto file = GgufFile::open(opt.model);
  if (!opt.dump_tensor.empty()) return dump_tensor(*file, opt.dump_tensor);
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
