#pragma once
// What a text generation is asked and what it gives back, free of any wire format: the OpenAI and native API
// dialects, async operations, batch jobs and workflow steps all speak these types to the GenerationService.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/scheduler.h"

namespace fm {

struct ToolCall {
  std::string id;         // may be empty (the native dialect has no call ids)
  std::string name;
  std::string arguments;  // a JSON text
};

struct ImageInput {
  std::string url;  // a data: URL or a fetchable URL, as the client sent it
  size_t at = std::string::npos;  // byte offset in the message's text where the image goes (npos: after it)
};

struct Message {
  std::string role;  // system, user, assistant, tool
  std::string text;
  std::vector<ImageInput> images;
  std::vector<ToolCall> tool_calls;  // assistant turns that called tools
  std::string tool_call_id;          // tool results: the call they answer
  std::string name;                  // tool results: the function's name
};

struct ToolSpec {
  std::string name, description;
  nlohmann::ordered_json parameters;  // a JSON Schema
  bool strict = false;
};

enum class OutputFormat { kText, kJsonObject, kJsonSchema };
enum class ReasoningMode { kUnspecified, kDisabled, kEnabledHidden };

struct GenerationRequest {
  std::string model, branch = "latest";  // the caller has resolved the folder and checked access
  // Exactly one of: a conversation rendered with the model's chat template, or a raw prompt (text completion).
  std::vector<Message> messages;
  std::optional<std::string> prompt;

  SamplingParams sampling;  // temperature 0 = greedy
  float presence_penalty = 0, frequency_penalty = 0;
  std::optional<int64_t> max_tokens;  // absent: up to the end of the context
  bool max_tokens_is_ceiling = false;  // true: lowered to the room left in the context; false: more is an error
  int n = 1;                          // choices sharing the prompt
  int top_logprobs = -1;              // -1: none; 0..20: the token's logprob and this many alternatives
  std::vector<std::string> stop;      // stop strings (the text ends before them)

  OutputFormat format = OutputFormat::kText;
  nlohmann::ordered_json json_schema;  // with kJsonSchema
  std::vector<ToolSpec> tools;
  std::string tool_choice;  // "", "none", "auto", "required" or a function name
  ReasoningMode reasoning = ReasoningMode::kUnspecified;

  Priority priority = Priority::kInteractive;
  std::chrono::seconds timeout{600};
};

enum class FinishStatus { kStop, kLength, kStopSequence, kToolCalls, kContentFilter };

struct TokenLogprob {
  std::string token;  // the token's bytes (may be part of a UTF-8 character)
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;  // best alternatives, most likely first
};

struct GenerationChoice {
  std::string text;       // the answer
  std::string reasoning;  // what a reasoning model thought first (<think>…</think>), without the tags
  std::vector<ToolCall> tool_calls;  // the calls the model made (finish kToolCalls)
  FinishStatus finish = FinishStatus::kStop;
  int64_t completion_tokens = 0;
  std::vector<TokenLogprob> logprobs;  // when top_logprobs >= 0
};

struct GenerationUsage {
  int64_t prompt_tokens = 0, completion_tokens = 0, reasoning_tokens = 0;
  int64_t total() const { return prompt_tokens + completion_tokens; }
};

struct GenerationResult {
  std::vector<GenerationChoice> choices;
  GenerationUsage usage;
  std::string model_version;
};

// Admission of a request: sent before any text.
struct GenerationStart {
  int64_t prompt_tokens = 0;
  std::string model_version;
};

class ServiceError;

// A piece of released text (or a token's logprob when text is held back for a stop string).
struct TextEvent {
  int choice = 0;
  std::string delta;            // answer text
  std::string reasoning_delta;  // reasoning text (dialects without a reasoning field leave it out)
  const TokenLogprob* logprob = nullptr;  // the token just generated, when the request asked for logprobs
  int64_t completion_tokens = 0;          // the choice's tokens so far
};

// Receives one generation's events, on whichever thread produces them, in order: on_started, then on_text for
// each piece of text released (stop strings are never released), then exactly one of on_finished / on_failed.
// on_failed may come without on_started (the request was refused).
class GenerationObserver {
 public:
  virtual ~GenerationObserver() = default;
  virtual void on_started(const GenerationStart&) {}
  virtual void on_text(const TextEvent&) {}
  virtual void on_finished(const GenerationResult& result) = 0;
  virtual void on_failed(const ServiceError& error) = 0;
};

// A fresh sampling seed, for requests that do not fix one.
uint64_t random_seed();

// The internal JSON of requests and results, for requests that outlive a connection (stored operations).
nlohmann::json to_json(const GenerationRequest& request);
GenerationRequest generation_request_from_json(const nlohmann::json& j);
nlohmann::json to_json(const GenerationResult& result);
GenerationResult generation_result_from_json(const nlohmann::json& j);
const char* finish_status_name(FinishStatus status);

}  // namespace fm
