#include "service/structured_output.h"

#include <algorithm>
#include <optional>
#include <limits>

#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/token_trie.h"
#include "service/model_manager.h"
#include "service/reasoning_text.h"
#include "service/service_error.h"

namespace fm {

std::shared_ptr<const Grammar> GrammarCache::grammar_for(const GenerationRequest& request) {
  if (request.format == OutputFormat::kText) return nullptr;
  if (request.format == OutputFormat::kJsonObject) return cached("json_object", [] { return json_object_grammar(); });
  return cached(request.json_schema.dump(), [&] { return compile_json_schema(request.json_schema); });
}

std::shared_ptr<const Grammar> GrammarCache::framed(const nlohmann::ordered_json& schema, const std::string& prefix,
                                                    const std::string& suffix) {
  const nlohmann::ordered_json key = {prefix, suffix, schema};
  return cached(key.dump(), [&] { return compile_json_schema(schema, prefix, suffix); });
}

std::shared_ptr<const Grammar> GrammarCache::cached(const std::string& key,
                                                    const std::function<std::shared_ptr<const Grammar>()>& compile) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      order_.splice(order_.begin(), order_, it->second.second);
      return it->second.first;
    }
  }
  std::shared_ptr<const Grammar> grammar;
  try {
    grammar = compile();
  } catch (const GrammarError& e) {
    throw ServiceError(ErrorCode::kInvalidArgument, std::string("the JSON schema cannot be enforced: ") + e.what(), "invalid_schema");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (entries_.count(key)) return entries_[key].first;
  order_.push_front(key);
  entries_[key] = {grammar, order_.begin()};
  while (entries_.size() > capacity_) {
    entries_.erase(order_.back());
    order_.pop_back();
  }
  return grammar;
}

std::shared_ptr<const TokenTrie> vocabulary_trie(LoadedModel& model) {
  std::lock_guard<std::mutex> lock(model.trie_mutex);
  if (!model.trie) model.trie = std::make_shared<const TokenTrie>(TokenTrie::from_tokenizer(*model.tokenizer));
  return model.trie;
}

namespace {

constexpr float kNever = -std::numeric_limits<float>::infinity();

// Sets every token `mask` does not allow to -infinity (masks are in trie order: each zero bit is a token the grammar
// does not allow; tokens without bytes are never allowed). Returns whether any token is allowed.
bool apply_mask(const TokenMask& mask, float* logits, int64_t n_vocab) {
  const TokenTrie& trie = mask.trie();
  const auto& ids = trie.token_ids();
  const auto& bits = mask.bits();
  bool any = false;
  for (size_t w = 0; w < bits.size(); ++w) {
    any = any || bits[w] != 0;
    uint64_t off = ~bits[w];
    while (off) {
      const size_t p = w * 64 + static_cast<size_t>(__builtin_ctzll(off));
      off &= off - 1;
      if (p >= ids.size()) break;
      if (ids[p] < n_vocab) logits[ids[p]] = kNever;
    }
  }
  for (int32_t id : trie.absent_ids())
    if (id < n_vocab) logits[id] = kNever;
  for (int64_t i = trie.vocab_size(); i < n_vocab; ++i) logits[i] = kNever;
  return any;
}

// The grammar's mask over the vocabulary, with the reasoning phase of thinking models in front of it:
//   undecided: the document or the token that opens the reasoning; thinking: anything but the end of generation,
//   until </think>; after thinking: the document or whitespace; then the grammar alone.
class GrammarConstraint : public TokenConstraint {
 public:
  GrammarConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie, ReasoningStart thinking)
      : matcher_(std::move(grammar)), trie_(std::move(trie)), mask_(*trie_), tracker_(thinking.inside),
        open_token_(thinking.open_token) {
    phase_ = thinking.inside ? Phase::kThinking : open_token_ >= 0 ? Phase::kUndecided : Phase::kGrammar;
  }

  bool mask(float* logits, int64_t n_vocab, const std::vector<int32_t>& end_tokens) override {
    if (phase_ == Phase::kThinking) {
      for (int32_t t : end_tokens)
        if (t >= 0 && t < n_vocab) logits[t] = kNever;
      return true;
    }
    // Tokens the phase allows besides the grammar's, and the end tokens: their logits survive the mask.
    kept_.clear();
    for (int32_t t : end_tokens) kept_.push_back(t);
    if (phase_ == Phase::kUndecided) kept_.push_back(open_token_);
    if (phase_ == Phase::kAfterThinking) kept_.insert(kept_.end(), trie_->whitespace_ids().begin(), trie_->whitespace_ids().end());
    kept_logits_.clear();
    for (int32_t t : kept_) kept_logits_.push_back(t >= 0 && t < n_vocab ? logits[t] : kNever);
    matcher_.fill_mask(mask_);
    bool any = apply_mask(mask_, logits, n_vocab);
    // End of generation only where the document may end, whatever the end token's bytes.
    const bool can_end = matcher_.accepting();
    for (size_t k = 0; k < kept_.size(); ++k) {
      const int32_t t = kept_[k];
      if (t < 0 || t >= n_vocab) continue;
      const bool is_end = k < end_tokens.size();
      logits[t] = is_end && !can_end ? kNever : kept_logits_[k];
      any = any || (!is_end && kept_logits_[k] != kNever);
    }
    return any || can_end;
  }

  void accept(int32_t token) override {
    if (token < 0 || token >= trie_->vocab_size()) return;
    const std::string& bytes = trie_->bytes(token);
    switch (phase_) {
      case Phase::kUndecided:
        if (token == open_token_) {
          tracker_.push(kThinkOpen);
          phase_ = Phase::kThinking;
          return;
        }
        break;
      case Phase::kThinking:
        tracker_.push(bytes);
        if (tracker_.closed()) phase_ = Phase::kAfterThinking;
        return;
      case Phase::kAfterThinking:
        if (!bytes.empty() && bytes.find_first_not_of(" \t\r\n") == std::string::npos) return;
        break;
      case Phase::kGrammar: break;
    }
    phase_ = Phase::kGrammar;
    matcher_.advance(bytes);
  }

  bool complete() const override { return phase_ == Phase::kGrammar && matcher_.finished(); }

 private:
  enum class Phase { kUndecided, kThinking, kAfterThinking, kGrammar };
  Matcher matcher_;
  std::shared_ptr<const TokenTrie> trie_;
  TokenMask mask_;
  ReasoningTracker tracker_;
  int32_t open_token_;
  Phase phase_;
  std::vector<int32_t> kept_;
  std::vector<float> kept_logits_;
};

class TriggeredConstraint : public TokenConstraint {
 public:
  TriggeredConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie, std::string trigger)
      : grammar_(std::move(grammar)), trie_(std::move(trie)), mask_(*trie_), trigger_(std::move(trigger)) {}

  bool mask(float* logits, int64_t n_vocab, const std::vector<int32_t>& end_tokens) override {
    if (!matcher_) return true;  // free text
    saved_.clear();
    for (int32_t t : end_tokens) saved_.push_back(t >= 0 && t < n_vocab ? logits[t] : kNever);
    matcher_->fill_mask(mask_);
    const bool any = apply_mask(mask_, logits, n_vocab);
    const bool can_end = matcher_->accepting();
    for (size_t k = 0; k < end_tokens.size(); ++k)
      if (end_tokens[k] >= 0 && end_tokens[k] < n_vocab) logits[end_tokens[k]] = can_end ? saved_[k] : kNever;
    return any || can_end;
  }

  void accept(int32_t token) override {
    if (token < 0 || token >= trie_->vocab_size()) return;
    const std::string& bytes = trie_->bytes(token);
    if (matcher_) {
      if (!matcher_->advance(bytes) || matcher_->accepting()) matcher_.reset();  // the call is whole: free text again
      return;
    }
    tail_ += bytes;
    const size_t at = tail_.find(trigger_);
    if (at == std::string::npos) {
      if (tail_.size() > 4 * trigger_.size()) tail_.erase(0, tail_.size() - trigger_.size());
      return;
    }
    // The trigger was written: what follows it in this token is the grammar's first bytes.
    const std::string rest = tail_.substr(at + trigger_.size());
    tail_.clear();
    matcher_.emplace(grammar_);
    if (!rest.empty() && !matcher_->advance(rest)) matcher_.reset();
  }

  bool complete() const override { return false; }

 private:
  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const TokenTrie> trie_;
  TokenMask mask_;
  std::string trigger_, tail_;
  std::optional<Matcher> matcher_;  // while a triggered call is being written
  std::vector<float> saved_;
};

}  // namespace

std::unique_ptr<TokenConstraint> make_triggered_constraint(std::shared_ptr<const Grammar> grammar,
                                                           std::shared_ptr<const TokenTrie> trie, std::string trigger) {
  return std::make_unique<TriggeredConstraint>(std::move(grammar), std::move(trie), std::move(trigger));
}

std::unique_ptr<TokenConstraint> make_grammar_constraint(std::shared_ptr<const Grammar> grammar,
                                                         std::shared_ptr<const TokenTrie> trie, ReasoningStart thinking) {
  return std::make_unique<GrammarConstraint>(std::move(grammar), std::move(trie), thinking);
}

}  // namespace fm
