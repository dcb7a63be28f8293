// POST /v1/embeddings: the OpenAI dialect over the embedding service. `input` is a string, an array of strings, an
// array of token ids or an array of such arrays; `encoding_format` float or base64; `dimensions` truncates.
#include "api/auth.h"
#include "api/json_input.h"
#include "api/openai/openai_wire.h"
#include "api/routes.h"
#include "util/base64.h"

namespace fm {
namespace {

constexpr size_t kMaxInputs = 2048;  // OpenAI's limit per request

std::vector<int32_t> token_array(const JsonField& f, size_t max) {
  const size_t n = f.array(max);
  std::vector<int32_t> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>(f[i].integer_or(0, 0, INT32_MAX)));
  return ids;
}

void parse_input(const JsonField& input, EmbeddingRequest& r) {
  input.require_present();
  const ojson& v = input.raw();
  if (v.is_string()) return r.inputs.push_back(input.string());
  const size_t n = input.array(1 << 20);
  if (n == 0) input.fail("must not be empty");
  if (v[0].is_number()) return r.inputs.push_back(token_array(input, 1 << 20));  // one input of token ids
  if (n > kMaxInputs) input.fail("may hold at most " + std::to_string(kMaxInputs) + " inputs");
  for (size_t i = 0; i < n; ++i) {
    const JsonField item = input[i];
    if (item.raw().is_string()) r.inputs.push_back(item.string());
    else if (item.raw().is_array()) r.inputs.push_back(token_array(item, 1 << 20));
    else item.fail("must be a string or an array of token ids");
  }
}

ojson embedding_value(const std::vector<float>& e, bool base64) {
  if (base64) return base64_encode(std::string_view(reinterpret_cast<const char*>(e.data()), e.size() * sizeof(float)));
  ojson values = ojson::array();
  for (float x : e) values.push_back(static_cast<double>(x));
  return values;
}

void embeddings(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const ojson json_body = parse_json_body(http.body, ctx.limits.max_json_depth);
  auto call = std::make_shared<openai::EmbeddingCall>(openai::parse_embedding_request(json_body, http, key));
  ctx.embeddings.embed(std::move(call->request), [reply, call](const EmbeddingResult* result, const ServiceError* error) {
    if (error) return reply->error(*error);
    reply->json(200, openai::embedding_response(*call, *result));
  });
}

}  // namespace

void add_openai_embedding_routes(Router& router, const ApiContext& ctx) {
  router.add("POST", "/v1/embeddings", Dialect::kOpenAi,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { embeddings(ctx, http, reply); });
}

namespace openai {

EmbeddingCall parse_embedding_request(const ojson& json_body, const HttpRequest& http, const ApiKeyRecord& key) {
  const JsonField body(json_body);
  EmbeddingCall call;
  call.model_id = body["model"].string();
  const ModelUri uri = authorize_model(call.model_id, "model", "emb", http, key);
  call.request.model = uri.name;
  call.request.branch = uri.branch;
  parse_input(body["input"], call.request);
  call.base64 = body["encoding_format"].enum_or(0, {"float", "base64"}) == 1;
  if (body["dimensions"].present()) call.request.dimensions = body["dimensions"].integer_or(0, 1, 1 << 20);
  return call;
}

ojson embedding_response(const EmbeddingCall& call, const EmbeddingResult& result) {
  ojson data = ojson::array();
  for (size_t i = 0; i < result.embeddings.size(); ++i)
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", embedding_value(result.embeddings[i], call.base64)}});
  return {{"object", "list"}, {"data", data}, {"model", call.model_id},
          {"usage", {{"prompt_tokens", result.total_tokens()}, {"total_tokens", result.total_tokens()}}}};
}

}  // namespace openai
}  // namespace fm
