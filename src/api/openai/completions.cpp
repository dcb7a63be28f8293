// POST /v1/chat/completions and POST /v1/completions: the OpenAI dialect over the generation service, whole
// responses or server-sent events.
#include <chrono>
#include <mutex>

#include "api/auth.h"
#include "api/openai/openai_wire.h"
#include "api/routes.h"

namespace fm {
namespace {

// Turns one generation's events into the OpenAI response or event stream.
class OpenAiObserver final : public GenerationObserver {
 public:
  OpenAiObserver(openai::Call call, std::shared_ptr<Reply> reply)
      : call_(std::move(call)), reply_(std::move(reply)), start_(std::chrono::steady_clock::now()), last_(start_) {}

  void on_started(const GenerationStart&) override {
    if (!call_.stream) return;
    reply_->start_stream("text/event-stream");
    streaming_ = true;
    reply_->write(openai::sse_event(openai::first_chunk(call_)));
  }

  void on_text(const TextEvent& e) override {
    const auto now = std::chrono::steady_clock::now();
    if (!first_token_seen_) reply_->metrics().time_to_first_token(seconds(now - start_));
    else reply_->metrics().per_token_latency(seconds(now - last_));
    first_token_seen_ = true;
    last_ = now;
    if (streaming_) reply_->write(openai::sse_event(openai::delta_chunk(call_, e)));
  }

  void on_finished(const GenerationResult& result) override {
    reply_->metrics().tokens(result.usage.prompt_tokens, result.usage.completion_tokens);
    if (!streaming_) return reply_->json(200, openai::response(call_, result));
    for (size_t i = 0; i < result.choices.size(); ++i) {
      if (!result.choices[i].tool_calls.empty())
        reply_->write(openai::sse_event(openai::tool_calls_chunk(call_, static_cast<int>(i), result.choices[i].tool_calls)));
      reply_->write(openai::sse_event(openai::finish_chunk(call_, static_cast<int>(i), result.choices[i].finish)));
    }
    if (call_.include_usage) reply_->write(openai::sse_event(openai::usage_chunk(call_, result.usage)));
    reply_->write("data: [DONE]\n\n");
    reply_->end_stream();
  }

  void on_failed(const ServiceError& error) override {
    if (!streaming_) return reply_->error(error);
    const ApiError e(error);
    reply_->write("data: " + error_body(Dialect::kOpenAi, e) + "\n\n");
    reply_->write("data: [DONE]\n\n");
    reply_->end_stream();
  }

 private:
  static double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }
  openai::Call call_;
  std::shared_ptr<Reply> reply_;
  bool streaming_ = false, first_token_seen_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

void generate(const ApiContext& ctx, bool chat, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const ojson body = parse_json_body(http.body, ctx.limits.max_json_depth);
  openai::Call call = openai::parse_request(body, chat, ctx.limits, http, key);
  GenerationRequest request = std::move(call.request);
  auto handle = std::make_shared<GenerationHandle>();
  reply->on_disconnect([handle] { handle->cancel(); });  // a client that goes away frees its sequence at once
  ctx.generation.start(std::move(request), std::make_shared<OpenAiObserver>(std::move(call), reply), handle);
}

void list_models(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  ojson data = ojson::array();
  for (const auto& m : ctx.models.config().models) {
    // The URI scheme a client addresses the model by: emb:// for embedding models, cls:// for classifiers.
    const std::string scheme = m.kind == ModelKind::kEmbedding    ? "emb"
                               : m.kind == ModelKind::kClassifier ? "cls"
                               : m.kind == ModelKind::kImage      ? "art"
                                                                  : "gpt";
    for (const auto& [branch, path] : m.branches)
      data.push_back({{"id", scheme + "://" + key.folder + "/" + m.name + "/" + branch}, {"object", "model"}, {"created", 0},
                      {"owned_by", key.folder}});
  }
  reply->json(200, {{"object", "list"}, {"data", data}});
}

}  // namespace

void add_openai_embedding_routes(Router& router, const ApiContext& ctx);  // embeddings.cpp
void add_openai_file_routes(Router& router, const ApiContext& ctx);       // files.cpp
void add_openai_batch_routes(Router& router, const ApiContext& ctx);      // batches.cpp
void add_openai_image_routes(Router& router, const ApiContext& ctx);      // images.cpp

void add_openai_routes(Router& router, const ApiContext& ctx) {
  add_openai_embedding_routes(router, ctx);
  add_openai_file_routes(router, ctx);
  add_openai_batch_routes(router, ctx);
  add_openai_image_routes(router, ctx);
  router.add("POST", "/v1/chat/completions", Dialect::kOpenAi,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { generate(ctx, true, http, reply); });
  router.add("POST", "/v1/completions", Dialect::kOpenAi,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { generate(ctx, false, http, reply); });
  router.add("GET", "/v1/models", Dialect::kOpenAi,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { list_models(ctx, http, reply); });
}

}  // namespace fm
