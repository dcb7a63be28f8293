#pragma once
// Text generation behind every entry point: the HTTP dialects, stored operations, batch jobs and workflow steps.
// It renders the conversation with the model's chat template, tokenizes, applies the request's limits, submits
// to the model's continuous-batching scheduler and turns tokens into text events (stop strings, UTF-8 safety,
// logprobs). It knows nothing of HTTP, JSON wire formats, keys or folders.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "service/generation.h"
#include "service/media_prompt.h"
#include "service/model_manager.h"
#include "service/service_error.h"
#include "service/structured_output.h"

namespace fm {

// Lets the caller stop a generation (a client went away, an operation was cancelled).
class GenerationHandle {
 public:
  GenerationHandle() : cancelled_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() { cancelled_->store(true); }
  bool cancelled() const { return cancelled_->load(); }
  const std::shared_ptr<std::atomic<bool>>& flag() const { return cancelled_; }

 private:
  std::shared_ptr<std::atomic<bool>> cancelled_;
};

struct PromptToken {
  int32_t id = 0;
  std::string text;  // the token's bytes (special tokens as their text)
  bool special = false;
};

struct TokenizeResult {
  std::vector<PromptToken> tokens;
  std::string model_version;
};

class GenerationService {
 public:
  explicit GenerationService(ModelManager& models) : models_(models) {}

  // Starts a generation. Every outcome reaches the observer, including refusals (on_failed); the observer is kept
  // alive until its last event. Returns at once, possibly before the model has loaded. `handle`: the caller's own
  // (made here when null), to cancel the run.
  std::shared_ptr<GenerationHandle> start(GenerationRequest request, std::shared_ptr<GenerationObserver> observer,
                                          std::shared_ptr<GenerationHandle> handle = nullptr);
  // Blocking form for callers without a connection to stream to: the result, or throws ServiceError.
  GenerationResult generate(GenerationRequest request);
  // Throws ServiceError (INVALID_ARGUMENT) for a feature the request asks for that is not served yet, as start()
  // would; callers that queue work for later (batches) check up front.
  static void check_supported(const GenerationRequest& request);
  // Throws ServiceError (INVALID_ARGUMENT) when the request's JSON schema cannot be enforced (batches check it
  // before their lines run).
  static void check_output_format(const GenerationRequest& request);

  using TokenizeDone = std::function<void(const TokenizeResult* result, const ServiceError* error)>;
  // The tokens of `text` as the model's tokenizer splits it (no special tokens added).
  void tokenize(const std::string& model, const std::string& branch, std::string text, TokenizeDone done);
  // The tokens of the prompt `request` would generate from (chat template applied).
  void tokenize_prompt(GenerationRequest request, TokenizeDone done);

 private:
  ModelManager& models_;
  GrammarCache grammars_;
};

// The prompt for `request` on `model`: the chat template applied to the messages, or the raw prompt with the
// tokenizer's BOS; a vision model's images encoded and placed where the messages put them. Throws ServiceError
// (invalid argument) for requests the model cannot take. `rendered` receives the prompt's text.
MediaPrompt build_prompt(const LoadedModel& model, const GenerationRequest& request, std::string* rendered = nullptr);

}  // namespace fm
