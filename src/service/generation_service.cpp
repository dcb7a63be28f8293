#include "service/generation_service.h"

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <mutex>

#include "chat/value.h"
#include "service/choice_text.h"
#include "service/model_access.h"
#include "service/reasoning_text.h"
#include "service/tool_calls.h"

namespace fm {
namespace {

using ojson = nlohmann::ordered_json;

}  // namespace

// Features that are parsed but not yet served are refused, never silently ignored.
void GenerationService::check_supported(const GenerationRequest& r) {
  const bool named = !r.tool_choice.empty() && r.tool_choice != "none" && r.tool_choice != "auto" && r.tool_choice != "required";
  if ((named || r.tool_choice == "required") && r.tools.empty()) throw invalid_argument("tool_choice needs tools");
  if (named && std::none_of(r.tools.begin(), r.tools.end(), [&](const ToolSpec& t) { return t.name == r.tool_choice; }))
    throw invalid_argument("tool_choice names '" + r.tool_choice + "', which is not among the tools");
  if ((named || r.tool_choice == "required") && r.format != OutputFormat::kText)
    throw invalid_argument("a required tool call cannot be combined with a response format");
}

void GenerationService::check_output_format(const GenerationRequest& request) {
  // Shared by every check, so a batch whose lines repeat one schema compiles it once.
  static GrammarCache checked(64);
  checked.grammar_for(request);
}

namespace {

// The message's text with the media marker where each of its images goes.
std::string text_with_markers(const Message& m) {
  if (m.images.empty()) return m.text;
  std::string out;
  size_t from = 0;
  for (const ImageInput& image : m.images) {
    const size_t at = std::min(image.at, m.text.size());
    if (at > from) out.append(m.text, from, at - from);
    from = std::max(from, at);
    out += kMediaMarker;
  }
  out.append(m.text, std::min(from, m.text.size()));
  return out;
}

// The chat template's view of a message (Hugging Face's conventions).
ojson template_message(const Message& m) {
  ojson out = {{"role", m.role}, {"content", text_with_markers(m)}};
  if (!m.tool_calls.empty()) {
    ojson calls = ojson::array();
    for (const ToolCall& c : m.tool_calls) {
      // Templates index the arguments as a mapping; keep the text when it is not a JSON object.
      ojson args = ojson::parse(c.arguments, nullptr, false);
      if (!args.is_object()) args = c.arguments;
      ojson call = {{"type", "function"}, {"function", {{"name", c.name}, {"arguments", args}}}};
      if (!c.id.empty()) call["id"] = c.id;
      calls.push_back(std::move(call));
    }
    out["tool_calls"] = std::move(calls);
  }
  if (!m.tool_call_id.empty()) out["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty()) out["name"] = m.name;
  return out;
}

// One generation between submission and its last event.
class Run {
 public:
  Run(GenerationRequest request, std::shared_ptr<GenerationObserver> observer, std::shared_ptr<LoadedModel> model,
      std::shared_ptr<const Grammar> grammar, GrammarCache& grammars)
      : req_(std::move(request)), observer_(std::move(observer)), model_(std::move(model)), grammar_(std::move(grammar)),
        grammars_(grammars) {
    for (int i = 0; i < req_.n; ++i) choices_.emplace_back(&req_.stop);
    reasoning_tokens_.resize(static_cast<size_t>(req_.n), 0);
    answers_.resize(static_cast<size_t>(req_.n));
    released_.resize(static_cast<size_t>(req_.n), 0);
    logprobs_.resize(static_cast<size_t>(req_.n));
    tokens_.resize(static_cast<size_t>(req_.n));
  }

  static void submit(const std::shared_ptr<Run>& run, const std::shared_ptr<GenerationHandle>& handle) {
    const GenerationRequest& req = run->req_;
    const LoadedModel& model = *run->model_;
    if (!model.scheduler)
      throw ServiceError(ErrorCode::kInvalidArgument, "model '" + model.name + "' (kind " + model_kind_name(model.config->kind) +
                         ") does not generate text", "wrong_model_kind");
    // Tools: the template family's call syntax; a required call is forced with a grammar.
    if (!req.prompt && !req.tools.empty() && req.tool_choice != "none") {
      run->syntax_ = tool_syntax_of(model.chat_template->source());
      if (run->syntax_ == ToolSyntax::kNone)
        throw ServiceError(ErrorCode::kInvalidArgument, "tool calling is not supported for model '" + model.name +
                           "': its chat template has no known tool-call syntax", "unsupported_feature");
      if (req.tool_choice == "required" || (!req.tool_choice.empty() && req.tool_choice != "auto")) {
        const ForcedCall call = forced_call(run->syntax_, req.tools, req.tool_choice == "required" ? "" : req.tool_choice);
        run->grammar_ = run->grammars_.framed(call.schema, call.prefix, call.suffix);
      } else if (!run->grammar_) {
        // auto: free text, but a call the model opens is held to the tools' schemas.
        TriggeredCall t = triggered_call(run->syntax_, req.tools);
        if (!t.trigger.empty()) {
          run->trigger_ = std::move(t.trigger);
          run->trigger_grammar_ = run->grammars_.framed(t.call.schema, t.call.prefix, t.call.suffix);
        }
      }
    }
    std::string rendered;
    MediaPrompt media = build_prompt(model, req, &rendered);
    std::vector<int32_t>& prompt = media.tokens;
    // Chat answers are split into reasoning and answer (the template may have opened the reasoning already).
    const bool opens = !req.prompt && prompt_opens_reasoning(rendered);
    if (!req.prompt)
      for (int i = 0; i < req.n; ++i) {
        run->reasoning_.emplace_back(opens);
        run->trackers_.emplace_back(opens);
      }
    const int64_t n_ctx = model.scheduler->options().n_ctx;
    const int64_t room = n_ctx - static_cast<int64_t>(prompt.size());
    if (room < 1)
      throw ServiceError(ErrorCode::kInvalidArgument, "the prompt has " + std::to_string(prompt.size()) +
                         " tokens; the model's context is " + std::to_string(n_ctx), "context_length_exceeded");
    int64_t max_tokens = req.max_tokens.value_or(room);
    if (max_tokens > room) {
      if (!req.max_tokens_is_ceiling)
        throw ServiceError(ErrorCode::kInvalidArgument, "max_tokens " + std::to_string(max_tokens) + " exceeds the " +
                           std::to_string(room) + " tokens left in the context of " + std::to_string(n_ctx),
                           "context_length_exceeded");
      max_tokens = room;
    }
    auto sreq = std::make_shared<SchedulerRequest>();
    sreq->prompt = std::move(prompt);
    sreq->images = std::move(media.images);
    sreq->priority = req.priority;
    sreq->sampling = req.sampling;
    sreq->presence_penalty = req.presence_penalty;
    sreq->frequency_penalty = req.frequency_penalty;
    sreq->max_tokens = max_tokens;
    sreq->n = req.n;
    sreq->top_logprobs = req.top_logprobs;
    sreq->stop_tokens = model.stop_tokens;
    if (run->trigger_grammar_) {
      auto trie = vocabulary_trie(*run->model_);
      sreq->new_constraint = [grammar = run->trigger_grammar_, trie, trigger = run->trigger_] {
        return make_triggered_constraint(grammar, trie, trigger);
      };
    }
    if (run->grammar_) {
      auto trie = vocabulary_trie(*run->model_);
      // Thinking comes first: the grammar starts once the reasoning block is closed.
      ReasoningStart thinking;
      thinking.inside = opens;
      if (req.reasoning != ReasoningMode::kDisabled && !req.prompt) thinking.open_token = model.tokenizer->vocab().find(std::string(kThinkOpen));
      sreq->new_constraint = [grammar = run->grammar_, trie, thinking] { return make_grammar_constraint(grammar, trie, thinking); };
    }
    sreq->deadline = std::chrono::steady_clock::now() + req.timeout;
    sreq->cancelled = handle->flag();
    sreq->on_token = [run](const TokenEvent& e) { return run->on_token(e); };
    sreq->on_finish = [run](const std::vector<ChoiceResult>& results, int64_t prompt_tokens) {
      run->on_finish(results, prompt_tokens);
    };
    const int64_t prompt_tokens = static_cast<int64_t>(sreq->prompt.size());
    // Held until on_started has run: the scheduler's first token waits for it.
    std::lock_guard<std::mutex> ordered(run->order_);
    switch (model.scheduler->submit(sreq)) {
      case Scheduler::Admission::kQueued: break;
      case Scheduler::Admission::kTooLong:
        throw ServiceError(ErrorCode::kInvalidArgument, "prompt plus max_tokens exceed the context, or n is too large",
                           "context_length_exceeded");
      case Scheduler::Admission::kQueueFull:
        throw ServiceError(ErrorCode::kResourceExhausted, "the server is busy; retry later", "queue_full", 1);
    }
    run->observer_->on_started({prompt_tokens, model.version});
  }

 private:
  bool on_token(const TokenEvent& e) {
    std::lock_guard<std::mutex> ordered(order_);
    const size_t c = static_cast<size_t>(e.choice);
    const std::string piece = model_->tokenizer->token_to_piece(e.token);
    if (!trackers_.empty() && trackers_[c].push(piece)) ++reasoning_tokens_[c];
    const std::string released = choices_[c].push(piece);
    ReasoningText::Pieces ready;
    if (reasoning_.empty()) ready.content = released;
    else ready = reasoning_[c].push(released);
    ready.content = hold_tool_calls(c, ready.content);
    const TokenLogprob* lp = nullptr;
    if (req_.top_logprobs >= 0) {
      TokenLogprob entry{piece, e.logprob, {}};
      for (const auto& t : e.top) entry.top.emplace_back(model_->tokenizer->token_to_piece(t.token), t.logprob);
      logprobs_[c].push_back(std::move(entry));
      lp = &logprobs_[c].back();
    }
    ++tokens_[c];
    if (!ready.content.empty() || !ready.reasoning.empty() || lp)
      observer_->on_text({e.choice, ready.content, ready.reasoning, lp, tokens_[c]});
    return !choices_[c].stopped();
  }

  void on_finish(const std::vector<ChoiceResult>& results, int64_t prompt_tokens) {
    std::lock_guard<std::mutex> ordered(order_);
    bool cancelled = !results.empty();
    for (const auto& r : results) {
      if (r.reason == FinishReason::kError) {
        observer_->on_failed(ServiceError(ErrorCode::kInternal, "generation failed", "internal_error"));
        return;
      }
      cancelled &= r.reason == FinishReason::kCancelled;
    }
    if (results.empty() || cancelled) {
      observer_->on_failed(ServiceError(ErrorCode::kCancelled, "the generation was cancelled", "cancelled"));
      return;
    }
    GenerationResult out;
    out.model_version = model_->version;
    out.usage.prompt_tokens = prompt_tokens;
    for (size_t i = 0; i < results.size(); ++i) {
      ChoiceText& text = choices_[i];
      ReasoningText::Pieces rest;
      if (reasoning_.empty()) {
        rest.content = text.flush();
      } else {
        rest = reasoning_[i].push(text.flush());
        const ReasoningText::Pieces last = reasoning_[i].flush();
        rest.content += last.content;
        rest.reasoning += last.reasoning;
      }
      GenerationChoice choice;
      if (reasoning_.empty()) {
        choice.text = text.text();
      } else {
        choice.text = reasoning_[i].content();
        choice.reasoning = reasoning_[i].reasoning();
      }
      if (syntax_ != ToolSyntax::kNone) {
        answers_[i] += rest.content;
        ParsedToolOutput parsed = parse_tool_calls(syntax_, choice.text);
        choice.tool_calls = std::move(parsed.calls);
        // Streamed text: whatever was held back as a possible call is content after all when no call parsed.
        rest.content = choice.tool_calls.empty() ? answers_[i].substr(std::min(released_[i], answers_[i].size())) : std::string();
        if (!choice.tool_calls.empty()) choice.text = parsed.content;
      }
      if (!rest.content.empty() || !rest.reasoning.empty())
        observer_->on_text({static_cast<int>(i), rest.content, rest.reasoning, nullptr, results[i].completion_tokens});
      choice.completion_tokens = results[i].completion_tokens;
      choice.logprobs = std::move(logprobs_[i]);
      switch (results[i].reason) {
        case FinishReason::kStop:
        case FinishReason::kCancelled:
          choice.finish = !choice.tool_calls.empty() ? FinishStatus::kToolCalls
                          : text.stopped()           ? FinishStatus::kStopSequence
                                                     : FinishStatus::kStop;
          break;
        default: choice.finish = FinishStatus::kLength; break;  // out of tokens, context or time
      }
      out.usage.completion_tokens += choice.completion_tokens;
      out.usage.reasoning_tokens += reasoning_tokens_[i];
      out.choices.push_back(std::move(choice));
    }
    observer_->on_finished(out);
  }

  // Streaming with tools: the answer so far, and how much of it went out; text that may begin a call waits.
  std::string hold_tool_calls(size_t c, const std::string& content) {
    if (syntax_ == ToolSyntax::kNone) return content;
    answers_[c] += content;
    const size_t ok = releasable_content(syntax_, answers_[c]);
    if (ok <= released_[c]) return {};
    std::string out = answers_[c].substr(released_[c], ok - released_[c]);
    released_[c] = ok;
    return out;
  }

  GenerationRequest req_;
  std::shared_ptr<GenerationObserver> observer_;
  std::shared_ptr<LoadedModel> model_;
  std::shared_ptr<const Grammar> grammar_;  // structured output (or a forced tool call), or null
  GrammarCache& grammars_;
  ToolSyntax syntax_ = ToolSyntax::kNone;  // tools are on: the template family's call syntax
  std::shared_ptr<const Grammar> trigger_grammar_;  // tool_choice auto: a call after trigger_ is held to this
  std::string trigger_;
  std::vector<std::string> answers_;       // per choice, with tools: the answer text so far
  std::vector<size_t> released_;           // per choice, with tools: how much of it was streamed
  std::mutex order_;  // callbacks from the scheduler thread wait for on_started
  std::vector<ChoiceText> choices_;
  std::vector<ReasoningText> reasoning_;      // per choice (chat requests)
  std::vector<ReasoningTracker> trackers_;    // per choice: which tokens are reasoning
  std::vector<int64_t> reasoning_tokens_;
  std::vector<std::vector<TokenLogprob>> logprobs_;
  std::vector<int64_t> tokens_;  // per choice, generated so far
};

TokenizeResult tokens_of(const LoadedModel& model, const std::vector<int32_t>& ids) {
  TokenizeResult out;
  out.model_version = model.version;
  for (int32_t id : ids) {
    const TokenKind kind = model.tokenizer->vocab().kind(id);
    out.tokens.push_back({id, model.tokenizer->token_to_piece(id, true), kind == TokenKind::kControl || kind == TokenKind::kUnknown});
  }
  return out;
}

}  // namespace

MediaPrompt build_prompt(const LoadedModel& model, const GenerationRequest& request, std::string* rendered) {
  if (request.prompt) {
    if (rendered) *rendered = *request.prompt;
    MediaPrompt out;
    out.tokens = model.tokenizer->encode(*request.prompt, true, false);
    if (out.tokens.empty()) throw invalid_argument("the prompt is empty");
    return out;
  }
  if (request.messages.empty()) throw invalid_argument("the request has no messages");
  size_t n_images = 0;
  for (const Message& m : request.messages) {
    n_images += m.images.size();
    if (m.text.find(kMediaMarker) != std::string::npos)
      throw invalid_argument("message text must not contain '" + std::string(kMediaMarker) + "'");
  }
  if (n_images > 0 && !model.images)
    throw ServiceError(ErrorCode::kInvalidArgument, "model '" + model.name + "' (kind " + model_kind_name(model.config->kind) +
                       ") does not take images", "unsupported_feature");
  ChatRequest chat;
  for (const Message& m : request.messages) chat.messages.push_back(template_message(m));
  chat.add_generation_prompt = true;
  if (request.reasoning == ReasoningMode::kDisabled) chat.kwargs["enable_thinking"] = false;
  if (!request.tools.empty() && request.tool_choice != "none") {
    chat.tools = ojson::array();
    for (const ToolSpec& t : request.tools) {
      ojson fn = {{"name", t.name}, {"description", t.description}};
      fn["parameters"] = t.parameters.is_null() ? ojson{{"type", "object"}, {"properties", ojson::object()}} : t.parameters;
      chat.tools.push_back({{"type", "function"}, {"function", fn}});
    }
    // FireFunction v2's template reads the tools as a JSON text named `functions`, and today's date as `datetime`.
    chat.kwargs["functions"] = chat.tools.dump(2);
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char date[64];
    std::strftime(date, sizeof date, "%b %d %Y %H:%M:%S GMT", &utc);
    chat.kwargs["datetime"] = date;
  }
  std::string text;
  try {
    text = model.chat_template->render(chat);
  } catch (const std::exception& e) {
    throw ServiceError(ErrorCode::kInvalidArgument, std::string("the model's chat template rejected the messages: ") + e.what(),
                       "template_error");
  }
  MediaPrompt out;
  if (n_images == 0) {
    out.tokens = model.tokenizer->encode(text, false, true);
  } else {
    if (count_media_markers(text) != n_images)
      throw invalid_argument("the model's chat template placed " + std::to_string(count_media_markers(text)) + " of the " +
                             std::to_string(n_images) + " images");
    const int64_t budget = model.scheduler ? model.scheduler->options().n_ctx : model.context;
    int64_t image_tokens = 0;
    std::vector<std::shared_ptr<const ImageEmbedding>> images;
    for (const Message& m : request.messages)
      for (const ImageInput& image : m.images) {
        images.push_back(model.images->encode(image.url));
        image_tokens += images.back()->n_tokens;
        if (image_tokens >= budget)
          throw ServiceError(ErrorCode::kInvalidArgument, "the " + std::to_string(images.size()) + " images take " +
                             std::to_string(image_tokens) + " tokens; the model's context is " + std::to_string(budget),
                             "context_length_exceeded");
      }
    out = tokenize_media_prompt(*model.tokenizer, text, image_framing(model.vision->projector_type()), images,
                                /*add_bos=*/false);
  }
  if (out.tokens.empty()) throw invalid_argument("the prompt is empty");
  if (rendered) *rendered = std::move(text);
  return out;
}

std::shared_ptr<GenerationHandle> GenerationService::start(GenerationRequest request,
                                                          std::shared_ptr<GenerationObserver> observer,
                                                          std::shared_ptr<GenerationHandle> handle) {
  if (!handle) handle = std::make_shared<GenerationHandle>();
  std::shared_ptr<const Grammar> grammar;
  try {
    GenerationService::check_supported(request);
    if (request.n < 1) throw invalid_argument("n must be at least 1");
    if (request.max_tokens && *request.max_tokens < 1) throw invalid_argument("max_tokens must be at least 1");
    grammar = grammars_.grammar_for(request);
  } catch (const ServiceError& e) {
    observer->on_failed(e);
    return handle;
  }
  const std::string model = request.model, branch = request.branch;
  auto shared_request = std::make_shared<GenerationRequest>(std::move(request));
  with_model(
      models_, model, branch,
      [shared_request, observer, handle, grammar, grammars = &grammars_](const std::shared_ptr<LoadedModel>& loaded) {
        Run::submit(std::make_shared<Run>(std::move(*shared_request), observer, loaded, grammar, *grammars), handle);
      },
      [observer](const ServiceError& e) { observer->on_failed(e); });
  return handle;
}

GenerationResult GenerationService::generate(GenerationRequest request) {
  struct Waiter : GenerationObserver {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    GenerationResult result;
    std::optional<ServiceError> error;
    void on_finished(const GenerationResult& r) override {
      std::lock_guard<std::mutex> lock(mutex);
      result = r;
      done = true;
      cv.notify_all();
    }
    void on_failed(const ServiceError& e) override {
      std::lock_guard<std::mutex> lock(mutex);
      error = e;
      done = true;
      cv.notify_all();
    }
  };
  auto waiter = std::make_shared<Waiter>();
  start(std::move(request), waiter);
  std::unique_lock<std::mutex> lock(waiter->mutex);
  waiter->cv.wait(lock, [&] { return waiter->done; });
  if (waiter->error) throw *waiter->error;
  return waiter->result;
}

void GenerationService::tokenize(const std::string& model, const std::string& branch, std::string text, TokenizeDone done) {
  with_model(
      models_, model, branch,
      [text = std::move(text), done](const std::shared_ptr<LoadedModel>& loaded) {
        const TokenizeResult out = tokens_of(*loaded, loaded->tokenizer->encode(text, false, false));
        done(&out, nullptr);
      },
      [done](const ServiceError& e) { done(nullptr, &e); });
}

void GenerationService::tokenize_prompt(GenerationRequest request, TokenizeDone done) {
  try {
    GenerationService::check_supported(request);
  } catch (const ServiceError& e) {
    return done(nullptr, &e);
  }
  const std::string model = request.model, branch = request.branch;
  auto shared_request = std::make_shared<GenerationRequest>(std::move(request));
  with_model(
      models_, model, branch,
      [shared_request, done](const std::shared_ptr<LoadedModel>& loaded) {
        const TokenizeResult out = tokens_of(*loaded, build_prompt(*loaded, *shared_request).tokens);
        done(&out, nullptr);
      },
      [done](const ServiceError& e) { done(nullptr, &e); });
}

}  // namespace fm
