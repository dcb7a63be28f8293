// POST /foundationModels/v1/textEmbedding: {modelUri: emb://…, text, dim?} -> {embedding, numTokens, modelVersion}.
#include "api/auth.h"
#include "api/native/native_wire.h"
#include "api/routes.h"

namespace fm {
namespace {

void text_embedding(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const ojson json_body = parse_json_body(http.body, ctx.limits.max_json_depth);
  const JsonField body(json_body, /*snake_aliases=*/true);
  const ModelUri uri = authorize_model(body["modelUri"].string(), "modelUri", "emb", http, key);
  EmbeddingRequest request;
  request.model = uri.name;
  request.branch = uri.branch;
  request.inputs.push_back(body["text"].string());
  if (body["dim"].present()) request.dimensions = body["dim"].int64_or(0, 1, 1 << 20);
  ctx.embeddings.embed(std::move(request), [reply](const EmbeddingResult* result, const ServiceError* error) {
    if (error) return reply->error(*error);
    reply->json(200, native::embedding_json(*result));
  });
}

}  // namespace

void add_embedding_routes(Router& router, const ApiContext& ctx) {
  router.add("POST", "/foundationModels/v1/textEmbedding", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { text_embedding(ctx, http, reply); });
}

}  // namespace fm
