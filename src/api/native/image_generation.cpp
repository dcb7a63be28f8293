// POST /foundationModels/v1/imageGenerationAsync: {modelUri: art://…, messages[{text, weight}], generationOptions{
// mimeType, seed, aspectRatio{widthRatio, heightRatio}}} -> an Operation whose response carries the image (base64).
#include "api/auth.h"
#include "api/native/native_wire.h"
#include "api/routes.h"

namespace fm {
namespace {

constexpr size_t kMaxMessages = 16;

void image_generation_async(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  if (!ctx.images) throw ApiError(ErrorCode::kUnimplemented, "image generation is not configured", "not_supported");
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const ojson json_body = parse_json_body(http.body, ctx.limits.max_json_depth);
  const JsonField body(json_body, /*snake_aliases=*/true);
  const ModelUri uri = authorize_model(body["modelUri"].string(), "modelUri", "art", http, key);
  ImageGenerationRequest request;
  request.model = uri.name;
  request.branch = uri.branch;
  const JsonField messages = body["messages"];
  const size_t n = messages.array(kMaxMessages);
  for (size_t i = 0; i < n; ++i) {
    messages[i].require_object();
    request.messages.push_back({messages[i]["text"].string(), messages[i]["weight"].number_or(1.0, -1e6, 1e6)});
  }
  const JsonField options = body["generationOptions"];
  if (options.present()) options.require_object();
  request.mime_type = options["mimeType"].string_or("image/jpeg");
  request.seed = static_cast<uint64_t>(options["seed"].int64_or(0, 0, INT64_MAX));
  const JsonField ratio = options["aspectRatio"];
  if (ratio.present()) ratio.require_object();
  request.width_ratio = ratio["widthRatio"].int64_or(1, 1, 1 << 20);
  request.height_ratio = ratio["heightRatio"].int64_or(1, 1, 1 << 20);
  request = ctx.images->validate(std::move(request));  // fixes the seed: a rerun after a crash draws the same image
  const Operation op = ctx.images->submit(key.folder, key.id, request);
  reply->json(200, native::operation_json(op));
}

}  // namespace

void add_image_generation_routes(Router& router, const ApiContext& ctx) {
  router.add("POST", "/foundationModels/v1/imageGenerationAsync", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
               image_generation_async(ctx, http, reply);
             });
}

}  // namespace fm
