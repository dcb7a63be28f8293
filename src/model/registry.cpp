#include "model/registry.h"

#include <array>
#include <string_view>

#include "gguf/gguf_file.h"
#include "model/model.h"

namespace fm {
namespace {

struct Family {
  std::string_view architecture;
  std::unique_ptr<Model> (*make)(const GgufFile&);
};

constexpr std::array<Family, 9> kFamilies = {{
    {"llama", make_llama_model},
    {"qwen2", make_qwen2_model},
    {"qwen2vl", make_qwen2vl_model},
    {"qwen3", make_qwen3_model},
    {"qwen3moe", make_qwen3moe_model},
    {"gemma3", make_gemma3_model},
    {"phi3", make_phi3_model},
    {"bert", make_bert_model},
    {"nomic-bert", make_nomic_bert_model},
}};

}  // namespace

std::unique_ptr<Model> load_model(const GgufFile& file) {
  const std::string arch = file.get_string("general.architecture");
  for (const Family& f : kFamilies)
    if (f.architecture == arch) return f.make(file);
  std::string known;
  for (const Family& f : kFamilies) known += (known.empty() ? "" : ", ") + std::string(f.architecture);
  throw GgufError("architecture '" + arch + "' is not supported (supported: " + known + ")");
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (const Family& f : kFamilies) out.emplace_back(f.architecture);
  return out;
}

}  // namespace fm
