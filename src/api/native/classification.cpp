// POST /foundationModels/v1/fewShotTextClassification: {modelUri: cls://…, taskDescription, labels, text, samples}
// and POST /foundationModels/v1/textClassification: {modelUri: cls://…, text} (a model with a classification head)
// -> {predictions: [{label, confidence}], modelVersion, inputTokens}.
#include "api/auth.h"
#include "api/native/native_wire.h"
#include "api/routes.h"

namespace fm {
namespace {

void few_shot(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const ojson json_body = parse_json_body(http.body, ctx.limits.max_json_depth);
  const JsonField body(json_body, /*snake_aliases=*/true);
  const ModelUri uri = authorize_model(body["modelUri"].string(), "modelUri", "cls", http, key);
  FewShotRequest request;
  request.model = uri.name;
  request.branch = uri.branch;
  request.task_description = body["taskDescription"].string_or("");
  const JsonField labels = body["labels"];
  labels.require_present();
  const size_t n_labels = labels.array(kMaxLabels);
  for (size_t i = 0; i < n_labels; ++i) request.labels.push_back(labels[i].string());
  request.text = body["text"].string();
  const JsonField samples = body["samples"];
  const size_t n_samples = samples.array(static_cast<size_t>(ctx.limits.max_messages));
  for (size_t i = 0; i < n_samples; ++i) {
    samples[i].require_object();
    request.samples.emplace_back(samples[i]["text"].string(), samples[i]["label"].string());
  }
  ctx.classification.few_shot(std::move(request), [reply](const ClassificationResult* result, const ServiceError* error) {
    if (error) return reply->error(*error);
    reply->json(200, native::classification_json(*result));
  });
}

void text_classification(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const ojson json_body = parse_json_body(http.body, ctx.limits.max_json_depth);
  const JsonField body(json_body, /*snake_aliases=*/true);
  const ModelUri uri = authorize_model(body["modelUri"].string(), "modelUri", "cls", http, key);
  TextClassificationRequest request{uri.name, uri.branch, body["text"].string()};
  ctx.classification.classify(std::move(request), [reply](const ClassificationResult* result, const ServiceError* error) {
    if (error) return reply->error(*error);
    reply->json(200, native::classification_json(*result));
  });
}

}  // namespace

void add_classification_routes(Router& router, const ApiContext& ctx) {
  router.add("POST", "/foundationModels/v1/textClassification", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { text_classification(ctx, http, reply); });
  router.add("POST", "/foundationModels/v1/fewShotTextClassification", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { few_shot(ctx, http, reply); });
}

}  // namespace fm
