// `fmserve grammar check`: walks the token-mask matcher over documents tokenized with a model's tokenizer and
// reports, per document, whether every token was in the mask and end of sequence was allowed at the end.
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli/commands.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/token_trie.h"
#include "tokenizer/hf_tokenizer.h"
#include "util/read_file.h"

namespace fm::cli {

namespace {

using Clock = std::chrono::steady_clock;

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

nlohmann::ordered_json parse_schema_text(const std::string& text, const std::string& where) {
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(where + ": not JSON: " + e.what());
  }
}

struct Compiled {
  std::shared_ptr<const Grammar> grammar;
  std::string error;
  double compile_us = 0;
};

Compiled compile(const nlohmann::ordered_json& schema) {
  Compiled c;
  const auto t0 = Clock::now();
  try {
    c.grammar = compile_json_schema(schema);
  } catch (const GrammarError& e) {
    c.error = e.what();
  }
  c.compile_us = micros(Clock::now() - t0);
  return c;
}

// One document: every token must be in the mask computed before it; end of sequence allowed at the end.
nlohmann::ordered_json check(const Compiled& c, const Tokenizer& tokenizer, const TokenTrie& trie, const std::string& doc,
                             bool masks, bool mask_times) {
  std::vector<double> times;
  Matcher matcher(c.grammar);
  TokenMask mask(trie);
  const std::vector<int32_t> ids = tokenize_document(tokenizer, doc);
  bool accepted = true;
  size_t n_masks = 0;
  double total_us = 0, max_us = 0;
  size_t visited = 0;  // trie nodes the mask walks visited
  int64_t rejected_at = -1;
  for (size_t i = 0; i < ids.size() && accepted; ++i) {
    const int32_t id = ids[i];
    if (masks) {
      const auto t0 = Clock::now();
      visited += matcher.fill_mask(mask);
      const double us = micros(Clock::now() - t0);
      if (mask_times) times.push_back(us);
      ++n_masks;
      total_us += us;
      max_us = std::max(max_us, us);
      if (!mask.allows(id)) accepted = false;
    }
    if (accepted && !matcher.advance(trie.bytes(id))) accepted = false;
    if (!accepted) rejected_at = static_cast<int64_t>(i);
  }
  const bool eos_ok = accepted && matcher.accepting();
  nlohmann::ordered_json out = {{"accepted", accepted && eos_ok}, {"tokens", ids.size()}, {"masks", n_masks},
                                {"mask_us_avg", n_masks ? total_us / static_cast<double>(n_masks) : 0.0},
                                {"mask_us_max", max_us}, {"compile_us", c.compile_us},
                                {"trie_nodes_avg", n_masks ? static_cast<double>(visited) / static_cast<double>(n_masks) : 0.0},
                                {"states", matcher.state_count()}};
  if (mask_times) out["mask_us"] = times;
  if (rejected_at >= 0) out["rejected_token"] = rejected_at;
  else if (!eos_ok) out["rejected_token"] = "end of sequence";
  return out;
}

}  // namespace

int run_grammar_check(const GrammarCheckOptions& opt) {
  if (opt.document.empty() == opt.jsonl.empty()) throw std::invalid_argument("give exactly one of --document, --jsonl");
  auto tokenizer = load_tokenizer(opt.model);
  const TokenTrie trie = TokenTrie::from_tokenizer(*tokenizer);
  std::map<std::string, Compiled> cache;  // by schema text
  auto compiled = [&](const nlohmann::ordered_json& schema) -> const Compiled& {
    const std::string key = schema.dump();
    auto it = cache.find(key);
    if (it == cache.end()) it = cache.emplace(key, compile(schema)).first;
    return it->second;
  };
  std::optional<nlohmann::ordered_json> main_schema;
  if (!opt.schema.empty()) main_schema = parse_schema_text(read_file(opt.schema), opt.schema);
  bool all_ok = true;
  auto run_case = [&](const nlohmann::ordered_json* schema, const std::string& doc) {
    if (!schema) throw std::invalid_argument("no schema: give --schema or a \"schema\" in the line");
    const Compiled& c = compiled(*schema);
    if (!c.grammar) {
      std::cout << nlohmann::ordered_json{{"error", c.error}, {"compile_us", c.compile_us}}.dump() << std::endl;
      all_ok = false;
      return;
    }
    std::cout << check(c, *tokenizer, trie, doc, !opt.no_masks, opt.mask_times).dump() << std::endl;
  };
  if (!opt.document.empty()) {
    run_case(main_schema ? &*main_schema : nullptr, read_file(opt.document));
    return all_ok ? 0 : 1;
  }
  std::ifstream in(opt.jsonl, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + opt.jsonl + "'");
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const auto value = parse_schema_text(line, opt.jsonl + ":" + std::to_string(line_no));
    if (!value.is_object() || !value.contains("document") || !value["document"].is_string())
      throw std::invalid_argument(opt.jsonl + ":" + std::to_string(line_no) + ": expected {\"document\": \"...\"}");
    const nlohmann::ordered_json* schema = value.contains("schema") ? &value["schema"] : main_schema ? &*main_schema : nullptr;
    run_case(schema, value["document"].get<std::string>());
  }
  return all_ok ? 0 : 1;
}

}  // namespace fm::cli
