#pragma once
// Tokenizers from Hugging Face files: tokenizer.json (model, normalizer, pre-tokenizer, post-processor, added
// tokens) with tokenizer_config.json beside it (BOS/EOS names and flags).
#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"

namespace fm {

// Throws std::runtime_error naming the unsupported or malformed part.
std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& tokenizer_json_path);

// A GGUF model file or a tokenizer.json, by file name.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace fm
