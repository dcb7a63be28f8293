#pragma once
// Structured output for the generation service: a request's JSON Schema (or JSON mode) compiled once and cached
// by the schema's text, and a token constraint per choice that masks the model's vocabulary with it.
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "grammar/grammar.h"
#include "runtime/token_constraint.h"
#include "service/generation.h"

namespace fm {

class TokenTrie;
struct LoadedModel;

class GrammarCache {
 public:
  explicit GrammarCache(size_t capacity = 256) : capacity_(capacity) {}
  // The grammar for the request's output format (null for plain text). Throws ServiceError (invalid argument)
  // naming what the engine cannot enforce.
  std::shared_ptr<const Grammar> grammar_for(const GenerationRequest& request);
  // The grammar of `schema` framed by literal text (a forced tool call).
  std::shared_ptr<const Grammar> framed(const nlohmann::ordered_json& schema, const std::string& prefix, const std::string& suffix);

 private:
  std::shared_ptr<const Grammar> cached(const std::string& key, const std::function<std::shared_ptr<const Grammar>()>& compile);
  size_t capacity_;
  std::mutex mutex_;
  std::list<std::string> order_;  // most recently used first
  std::map<std::string, std::pair<std::shared_ptr<const Grammar>, std::list<std::string>::iterator>> entries_;
};

// The model's vocabulary as a byte trie, built on first use and kept with the model.
std::shared_ptr<const TokenTrie> vocabulary_trie(LoadedModel& model);

// Where a reasoning model's thinking stands when the output starts: the grammar applies only after it.
struct ReasoningStart {
  bool inside = false;     // the prompt opened the reasoning block
  int32_t open_token = -1;  // the model may open one with this token first (-1: it cannot)
};

// One choice's constraint: the grammar's matcher over the model's vocabulary, after any reasoning.
std::unique_ptr<TokenConstraint> make_grammar_constraint(std::shared_ptr<const Grammar> grammar,
                                                         std::shared_ptr<const TokenTrie> trie, ReasoningStart thinking = {});

// Free text, except that once the output contains `trigger` (a tool call's opening marker) the grammar constrains
// what follows until it is complete; then free text again (another call may follow).
std::unique_ptr<TokenConstraint> make_triggered_constraint(std::shared_ptr<const Grammar> grammar,
                                                           std::shared_ptr<const TokenTrie> trie, std::string trigger);

}  // namespace fm
