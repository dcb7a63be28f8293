// POST /foundationModels/v1/tokenize ({modelUri, text}) and /tokenizeCompletion (a CompletionRequest: the tokens
// of its rendered prompt).
#include "api/auth.h"
#include "api/native/native_wire.h"
#include "api/routes.h"

namespace fm {
namespace {

GenerationService::TokenizeDone answer(const std::shared_ptr<Reply>& reply) {
  return [reply](const TokenizeResult* result, const ServiceError* error) {
    if (error) return reply->error(*error);
    reply->json(200, native::tokens_json(*result));
  };
}

void tokenize(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const ojson json_body = parse_json_body(http.body, ctx.limits.max_json_depth);
  const JsonField body(json_body, /*snake_aliases=*/true);
  const ModelUri uri = authorize_model(body["modelUri"].string(), "modelUri", "gpt", http, key);
  ctx.generation.tokenize(uri.name, uri.branch, body["text"].string(), answer(reply));
}

void tokenize_completion(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  native::CompletionCall call = native::parse_completion(parse_json_body(http.body, ctx.limits.max_json_depth), ctx.limits, http, key);
  ctx.generation.tokenize_prompt(std::move(call.request), answer(reply));
}

}  // namespace

void add_tokenize_routes(Router& router, const ApiContext& ctx) {
  router.add("POST", "/foundationModels/v1/tokenize", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { tokenize(ctx, http, reply); });
  router.add("POST", "/foundationModels/v1/tokenizeCompletion", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { tokenize_completion(ctx, http, reply); });
}

}  // namespace fm
