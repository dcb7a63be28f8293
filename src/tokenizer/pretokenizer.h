#pragma once
// Pre-tokenization: splitting text into words before BPE, by a sequence of regular expressions each applied
// within the pieces of the previous one (llama.cpp's unicode_regex_split). The named sets follow
// tokenizer.ggml.pre values of llama.cpp-converted GGUF files.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/regex.h"

namespace fm {

class PreTokenizer {
 public:
  explicit PreTokenizer(const std::vector<std::string>& patterns);
  // The named set for a tokenizer.ggml.pre value; throws std::runtime_error for unknown names.
  static PreTokenizer for_gguf_pre(const std::string& name);

  // Pieces of text as [begin, end) byte ranges.
  std::vector<std::pair<size_t, size_t>> split(std::string_view text) const;

 private:
  std::vector<std::shared_ptr<const Regex>> regexes_;
};

}  // namespace fm
