// POST /v1/images/generations: {model: art://…, prompt, n, size "WxH", response_format "b64_json", output_format
// png|jpeg, seed (fmserve)} -> {created, data[{b64_json, revised_prompt?}]}, generated on the image queue.
#include <atomic>
#include <chrono>
#include <mutex>

#include "api/auth.h"
#include "api/json_input.h"
#include "api/reply.h"
#include "api/routes.h"
#include "util/base64.h"

namespace fm {
namespace {

constexpr int64_t kMaxImages = 4;

// "512x512" -> {512, 512}; "auto" -> {0, 0} (the model's native size).
std::pair<int, int> parse_size(const JsonField& field) {
  const std::string s = field.string_or("auto");
  if (s == "auto") return {0, 0};
  const size_t x = s.find('x');
  int w = 0, h = 0;
  try {
    size_t used_w = 0, used_h = 0;
    w = std::stoi(s.substr(0, x), &used_w);
    h = std::stoi(s.substr(x + 1), &used_h);
    if (x == std::string::npos || used_w != x || used_h != s.size() - x - 1) w = h = 0;
  } catch (const std::exception&) {
    w = h = 0;
  }
  if (w <= 0 || h <= 0) field.fail("must be 'auto' or WIDTHxHEIGHT, e.g. '512x512'");
  return {w, h};
}

struct Collected {
  std::mutex mutex;
  ojson data = ojson::array();
  int64_t remaining = 0;
  bool failed = false;
};

void generate_images(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  if (!ctx.images) throw ApiError(ErrorCode::kUnimplemented, "image generation is not configured", "not_supported");
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const ojson json_body = parse_json_body(http.body, ctx.limits.max_json_depth);
  const JsonField body(json_body);
  const ModelUri uri = authorize_model(body["model"].string(), "model", "art", http, key);
  const std::string format = body["response_format"].string_or("b64_json");
  if (format != "b64_json") body["response_format"].fail("must be 'b64_json' (fmserve does not host image URLs)");
  const std::string output = body["output_format"].string_or("png");
  if (output != "png" && output != "jpeg") body["output_format"].fail("must be 'png' or 'jpeg'");
  const int64_t n = body["n"].integer_or(1, 1, kMaxImages);
  const auto [width, height] = parse_size(body["size"]);
  ImageGenerationRequest request;
  request.model = uri.name;
  request.branch = uri.branch;
  request.messages.push_back({body["prompt"].string(), 1.0});
  request.mime_type = output == "png" ? "image/png" : "image/jpeg";
  request.width = width;
  request.height = height;
  request.seed = static_cast<uint64_t>(body["seed"].int64_or(0, 0, INT64_MAX));
  request = ctx.images->validate(std::move(request));
  auto collected = std::make_shared<Collected>();
  collected->remaining = n;
  collected->data = ojson::array();
  for (int64_t i = 0; i < n; ++i) collected->data.push_back(nullptr);
  auto gone = std::make_shared<std::atomic<bool>>(false);
  reply->on_disconnect([gone] { *gone = true; });
  for (int64_t i = 0; i < n; ++i) {
    ImageGenerationRequest one = request;
    one.seed = request.seed + static_cast<uint64_t>(i);  // image i of a request: the next seed
    ctx.images->generate(
        std::move(one),
        [collected, reply, i, output](const ImageGenerationResult* result, const ServiceError* error) {
          std::lock_guard<std::mutex> lock(collected->mutex);
          if (collected->failed) return;
          if (error) {
            collected->failed = true;
            return reply->error(*error);
          }
          const std::string b64 =
              base64_encode(std::string_view(reinterpret_cast<const char*>(result->image.data()), result->image.size()));
          collected->data[static_cast<size_t>(i)] = {{"b64_json", b64}, {"seed", result->seed}};
          if (--collected->remaining > 0) return;
          const int64_t created =
              std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
          reply->json(200, {{"created", created}, {"data", collected->data}, {"output_format", output},
                            {"size", std::to_string(result->width) + "x" + std::to_string(result->height)}});
        },
        [gone] { return gone->load(); });
  }
}

}  // namespace

void add_openai_image_routes(Router& router, const ApiContext& ctx) {
  router.add("POST", "/v1/images/generations", Dialect::kOpenAi,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
               generate_images(ctx, http, reply);
             });
}

}  // namespace fm
