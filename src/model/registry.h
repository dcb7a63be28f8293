#pragma once
// Factories of the architecture families, one per family source file; registry.cpp maps
// general.architecture to them. Adding a family = one file + one row there + its fixture test.
#include <memory>

namespace fm {

class GgufFile;
class Model;

std::unique_ptr<Model> make_llama_model(const GgufFile& file);

}  // namespace fm
