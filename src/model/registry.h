#pragma once
// Factories of the architecture families, one per family source file; registry.cpp maps
// general.architecture to them. Adding a family = one file + one row there + its fixture test.
#include <memory>

#include "model/model.h"

namespace fm {

class GgufFile;
class Model;

std::unique_ptr<Model> make_llama_model(const GgufFile& file);
std::unique_ptr<Model> make_qwen2_model(const GgufFile& file);
std::unique_ptr<Model> make_qwen2vl_model(const GgufFile& file);
std::unique_ptr<Model> make_qwen3_model(const GgufFile& file);
std::unique_ptr<Model> make_qwen3moe_model(const GgufFile& file);
std::unique_ptr<Model> make_gemma3_model(const GgufFile& file);
std::unique_ptr<Model> make_phi3_model(const GgufFile& file);
// Encoders (embeddings only): bert.cpp.
std::unique_ptr<Model> make_bert_model(const GgufFile& file);
std::unique_ptr<Model> make_nomic_bert_model(const GgufFile& file);

}  // namespace fm
