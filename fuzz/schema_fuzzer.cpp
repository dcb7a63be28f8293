// libFuzzer target: the JSON Schema compiler and the matcher. Input: a schema, optionally followed by a line
// "----" and a document. Compiling must end with a grammar or a GrammarError (any other exception escaping is a
// bug); the document is then fed byte by byte, and at each step the mask over a small vocabulary of JSON-ish
// tokens must agree with the matcher token by token. Crashes, leaks and UB are bugs (built with ASan/UBSan).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/token_trie.h"

namespace {

const fm::TokenTrie& vocabulary() {
  static const fm::TokenTrie trie([] {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
    for (const char* t : {"{\"", "\":", "\",", "\"}", "true", "false", "null", "  ", "\n  ", "12", "0.5", "-1", "e+",
                          "ab", "abc", "\\n", "\\u00", "\xD0\xB6", "\xE4\xB8", "\xE4\xB8\xAD", "2024-", "@ex", "]}", "[{"})
      tokens.push_back(t);
    return tokens;
  }());
  return trie;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find("\n----\n");
  const std::string schema_text = input.substr(0, split);
  const std::string doc = split == std::string::npos ? std::string() : input.substr(split + 6);
  const auto schema = nlohmann::ordered_json::parse(schema_text, nullptr, false);
  if (schema.is_discarded()) return 0;
  std::shared_ptr<const fm::Grammar> grammar;
  try {
    grammar = fm::compile_json_schema(schema);
  } catch (const fm::GrammarError&) {
    return 0;
  }
  fm::Matcher matcher(grammar);
  const fm::TokenTrie& trie = vocabulary();
  fm::TokenMask mask(trie);
  for (size_t i = 0; i <= doc.size() && i < 64; ++i) {
    matcher.fill_mask(mask);
    for (int32_t t = 0; t < trie.vocab_size(); ++t) {
      const bool in_mask = mask.allows(t);
      if (in_mask != matcher.can_advance(trie.bytes(t))) __builtin_trap();
    }
    if (i == doc.size() || !matcher.advance(std::string_view(doc).substr(i, 1))) break;
  }
  return 0;
}
