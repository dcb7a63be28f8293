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
  // What happens to the text a pattern matches (Hugging Face SplitDelimiterBehavior).
  enum class Behavior { kIsolated, kMergedWithPrevious, kMergedWithNext, kRemoved };
  struct Step {
    std::string pattern;
    Behavior behavior = Behavior::kIsolated;
  };

  explicit PreTokenizer(const std::vector<std::string>& patterns);  // every step kIsolated
  explicit PreTokenizer(const std::vector<Step>& steps);
  // The patterns llama.cpp applies for a tokenizer.ggml.pre value; throws std::runtime_error for unknown names.
  static const std::vector<std::string>& gguf_patterns(const std::string& pre);

  // Pieces of text as [begin, end) byte ranges.
  std::vector<std::pair<size_t, size_t>> split(std::string_view text) const;

 private:
  std::vector<std::shared_ptr<const Regex>> regexes_;
  std::vector<Behavior> behaviors_;
};

}  // namespace fm
