#pragma once
// Continuous batching for one model: every step advances all running sequences together in one batched forward
// pass (one token per decoding sequence plus chunks of prompts still being prefilled), admits queued requests
// while the KV-cache budget allows, and frees a sequence's KV cache the moment it finishes or is cancelled.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gguf/tensor_type.h"
#include "runtime/sampler.h"
#include "runtime/token_constraint.h"

namespace fm {

class Model;
struct ImageEmbedding;

struct TopLogprob {
  int32_t token;
  float logprob;
};

// One generated token of one choice, delivered on the scheduler thread.
struct TokenEvent {
  int choice = 0;
  int32_t token = -1;
  float logprob = 0;               // log-softmax of the sampled token (before penalties)
  std::vector<TopLogprob> top;     // the request's top_logprobs best alternatives
};

enum class FinishReason { kStop, kLength, kCancelled, kDeadline, kError };
const char* finish_reason_name(FinishReason r);

struct ChoiceResult {
  FinishReason reason = FinishReason::kStop;
  int64_t completion_tokens = 0;
};

// Interactive requests (synchronous API calls) are admitted before background ones (async operations, batch
// jobs); background requests wait only for capacity, never count against max_queue. While an interactive prompt
// is being read, background sequences pause (its first token does not wait for theirs), and background prompts
// are read in small chunks so that no step an interactive request lands behind is long.
enum class Priority { kInteractive, kBackground };

// An image inside a prompt: its embeddings fill prompt rows [at, at + n_tokens) (whose ids are placeholders),
// evaluated as one non-causal block.
struct PromptImage {
  int64_t at = 0;
  std::shared_ptr<const ImageEmbedding> embedding;
};

struct SchedulerRequest {
  std::vector<int32_t> prompt;
  std::vector<PromptImage> images;  // in prompt order, not overlapping
  Priority priority = Priority::kInteractive;
  SamplingParams sampling;
  float presence_penalty = 0, frequency_penalty = 0;
  int64_t max_tokens = 16;
  int n = 1;                  // choices sharing the prompt's KV cache
  int top_logprobs = -1;      // -1: no logprobs; 0..20: logprob of the token and this many alternatives
  std::vector<int32_t> stop_tokens;  // end of generation (EOS, end of turn)
  // Structured output: each choice gets its own constraint from this factory; tokens it forbids are never drawn,
  // and the choice ends when the constraint is complete.
  std::function<std::unique_ptr<TokenConstraint>()> new_constraint;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
  // Called for every token; returning false ends that choice with kStop (a stop sequence was seen).
  std::function<bool(const TokenEvent&)> on_token;
  // Called once per request when every choice has finished (or at once when rejected after admission).
  std::function<void(const std::vector<ChoiceResult>&, int64_t prompt_tokens)> on_finish;
};

struct SchedulerOptions {
  int64_t n_ctx = 4096;               // largest context of a sequence
  int64_t max_batch_tokens = 256;     // tokens per forward pass (decode tokens + prefill chunks)
  int64_t background_prefill_tokens = 64;  // background prompt tokens per forward pass
  int64_t max_image_tokens = 0;       // largest image a prompt may hold: evaluated whole, even beyond max_batch_tokens
  int max_running = 64;               // sequences advancing together
  int max_queue = 256;                // waiting requests beyond which submit() refuses
  size_t kv_budget_bytes = size_t{1} << 30;
  TensorType kv_type = TensorType::F16;
  int threads = 0;                    // 0 = every core
};

struct SchedulerStats {
  int64_t queued = 0, running = 0;
  size_t kv_bytes_in_use = 0, kv_budget_bytes = 0;
  int64_t steps = 0, tokens_generated = 0, prompt_tokens = 0;
};

class Scheduler {
 public:
  Scheduler(const Model& model, const SchedulerOptions& options);
  ~Scheduler();  // stop()
  // Cancels everything still queued or running (their on_finish run with kCancelled) and joins the thread.
  // Call it while the objects the callbacks use are alive.
  void stop();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  enum class Admission { kQueued, kQueueFull, kTooLong };
  // Validates and enqueues; kTooLong when prompt + max_tokens exceeds the context (or n exceeds max_running),
  // kQueueFull when the interactive queue is full.
  Admission submit(std::shared_ptr<SchedulerRequest> request);
  SchedulerStats stats() const;
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Impl;
  SchedulerOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fm
