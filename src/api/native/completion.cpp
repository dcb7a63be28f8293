// POST /foundationModels/v1/completion (whole response, or newline-delimited JSON with the cumulative text) and
// POST /foundationModels/v1/completionAsync (a durable Operation, run in the background).
#include "api/auth.h"
#include "api/native/native_wire.h"
#include "api/routes.h"

namespace fm {
namespace {

// One CompletionResponse per line: the whole text so far, PARTIAL until the last line.
class NativeObserver final : public GenerationObserver {
 public:
  NativeObserver(bool stream, std::shared_ptr<Reply> reply) : stream_(stream), reply_(std::move(reply)) {}

  void on_started(const GenerationStart& start) override {
    prompt_tokens_ = start.prompt_tokens;
    model_version_ = start.model_version;
    if (!stream_) return;
    reply_->start_stream("application/x-ndjson");
    streaming_ = true;
  }

  void on_text(const TextEvent& e) override {
    text_ += e.delta;
    if (streaming_ && !e.delta.empty())
      reply_->write(line(native::partial_response(text_, prompt_tokens_, e.completion_tokens, model_version_)));
  }

  void on_finished(const GenerationResult& result) override {
    reply_->metrics().tokens(result.usage.prompt_tokens, result.usage.completion_tokens);
    if (!streaming_) return reply_->json(200, {{"result", native::completion_response(result)}});
    reply_->write(line(native::completion_response(result)));
    reply_->end_stream();
  }

  void on_failed(const ServiceError& error) override {
    if (!streaming_) return reply_->error(error);
    reply_->write(error_body(Dialect::kNative, ApiError(error)) + "\n");  // an error after the stream began: a last line
    reply_->end_stream();
  }

 private:
  static std::string line(const ojson& response) { return dump_json({{"result", response}}) + "\n"; }
  bool stream_, streaming_ = false;
  std::shared_ptr<Reply> reply_;
  std::string text_, model_version_;
  int64_t prompt_tokens_ = 0;
};

void completion(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  native::CompletionCall call = native::parse_completion(parse_json_body(http.body, ctx.limits.max_json_depth), ctx.limits, http, key);
  auto handle = std::make_shared<GenerationHandle>();
  reply->on_disconnect([handle] { handle->cancel(); });
  ctx.generation.start(std::move(call.request), std::make_shared<NativeObserver>(call.stream, reply), handle);
}

void completion_async(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  native::CompletionCall call = native::parse_completion(parse_json_body(http.body, ctx.limits.max_json_depth), ctx.limits, http, key);
  const ModelConfig* model = ctx.models.config().find(call.request.model);
  if (!model || !model->branches.count(call.request.branch))
    throw ApiError(ErrorCode::kNotFound, "model '" + call.request.model + "/" + call.request.branch + "' does not exist", "model_not_found");
  const Operation op = ctx.operations.submit_completion(key.folder, key.id, "Async GPT Completion", call.request);
  reply->json(200, native::operation_json(op));
}

}  // namespace

void add_completion_routes(Router& router, const ApiContext& ctx) {
  router.add("POST", "/foundationModels/v1/completion", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { completion(ctx, http, reply); });
  router.add("POST", "/foundationModels/v1/completionAsync", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { completion_async(ctx, http, reply); });
}

}  // namespace fm
