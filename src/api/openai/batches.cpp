// The OpenAI Batch API over batch tasks: /v1/batches (create, list), /v1/batches/{id} (retrieve),
// /v1/batches/{id}/cancel, for /v1/chat/completions, /v1/completions and /v1/embeddings. Input lines {custom_id, method, url, body} are checked when the batch is created (unique
// custom_id, the batch's endpoint, one model, bodies the endpoint accepts); a batch with bad lines is stored as
// failed with the lines' errors, as OpenAI does. Lines then run like any batch task's, at background priority.
#include <algorithm>
#include <filesystem>
#include <set>

#include "api/auth.h"
#include "api/openai/openai_files.h"
#include "api/openai/openai_wire.h"
#include "api/query.h"
#include "api/routes.h"
#include "service/dataset_rows.h"
#include "util/line_reader.h"

namespace fm {
namespace {

constexpr const char* kDialect = "openai";
constexpr const char* kEmbeddings = "/v1/embeddings";
constexpr size_t kMaxReportedErrors = 100;

struct BatchLine {
  std::string custom_id, url;
  ojson body;
};

// A line's fields; throws RowError.
BatchLine read_line(const std::string& text) {
  const ojson j = ojson::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw RowError("invalid_json", "the line is not a JSON object");
  BatchLine line;
  if (!j.contains("custom_id") || !j["custom_id"].is_string() || j["custom_id"].get<std::string>().empty())
    throw RowError("missing_custom_id", "the line has no string custom_id");
  line.custom_id = j["custom_id"];
  if (j.value("method", "") != "POST") throw RowError("invalid_method", "method must be POST");
  if (!j.contains("url") || !j["url"].is_string()) throw RowError("invalid_url", "the line has no url");
  line.url = j["url"];
  if (!j.contains("body") || !j["body"].is_object()) throw RowError("missing_body", "the line has no body object");
  line.body = j["body"];
  return line;
}

// What parse_request needs to read a stored line at run time: a key of the model's folder (access was checked when
// the batch was created).
std::pair<HttpRequest, ApiKeyRecord> run_identity(const ojson& body) {
  HttpRequest http;
  ApiKeyRecord key;
  const std::string model = body.contains("model") && body["model"].is_string() ? body["model"].get<std::string>() : "";
  std::string error;
  if (std::optional<ModelUri> uri = parse_model_uri(model, &error)) key.folder = uri->folder;
  if (key.folder.empty()) key.folder = "batch";
  key.scopes = {kScopeFoundationModels};
  return {http, key};
}

class OpenAiBatchFormat final : public BatchFormat {
 public:
  explicit OpenAiBatchFormat(RequestLimits limits) : limits_(limits) {}

  LineRequest request(const std::string& text, const GenerationRequest& base) const override {
    const BatchLine line = read_line(text);
    if (line.url == kEmbeddings) return parse_embedding(line).request;
    GenerationRequest r = parse(line).request;
    r.priority = base.priority;
    return r;
  }

  std::string output_line(const std::string& source, const LineResult& r) const override {
    if (!r.response) return "";
    const BatchLine line = read_line(source);
    ojson body;
    std::string request_id = "embd-" + std::to_string(r.line);
    if (line.url == kEmbeddings) {
      body = openai::embedding_response(parse_embedding(line), embedding_result_from_json(nlohmann::json::parse(r.result)));
    } else {
      const openai::Call call = parse(line);
      body = openai::response(call, generation_result_from_json(nlohmann::json::parse(r.result)));
      request_id = call.id;
    }
    return dump_json({{"id", "batch_req_" + std::to_string(r.line)}, {"custom_id", line.custom_id},
                      {"response", {{"status_code", 200}, {"request_id", request_id}, {"body", body}}}, {"error", nullptr}});
  }

  std::string error_line(const std::string& source, const LineResult& r) const override {
    if (r.response) return "";
    std::string custom_id;
    try {
      custom_id = read_line(source).custom_id;
    } catch (const RowError&) {
    }
    const ApiError e(static_cast<ErrorCode>(r.error_code == 0 ? 13 : r.error_code), r.error);
    const ojson body = ojson::parse(error_body(Dialect::kOpenAi, e));
    return dump_json({{"id", "batch_req_" + std::to_string(r.line)}, {"custom_id", custom_id},
                      {"response", {{"status_code", e.http_status()}, {"request_id", ""}, {"body", body}}},
                      {"error", {{"code", body["error"]["code"].is_string() ? body["error"]["code"] : ojson("error")}, {"message", r.error}}}});
  }

  openai::Call parse(const BatchLine& line) const {
    const auto [http, key] = run_identity(line.body);
    try {
      return openai::parse_request(line.body, line.url == "/v1/chat/completions", limits_, http, key);
    } catch (const ApiError& e) {
      throw RowError("invalid_body", e.what());
    }
  }

  static openai::EmbeddingCall parse_embedding(const BatchLine& line) {
    const auto [http, key] = run_identity(line.body);
    try {
      return openai::parse_embedding_request(line.body, http, key);
    } catch (const ApiError& e) {
      throw RowError("invalid_body", e.what());
    }
  }

 private:
  RequestLimits limits_;
};

int64_t seconds(int64_t ms) { return ms / 1000; }

ojson batch_json(const ApiContext& ctx, const BatchTask& t) {
  const BatchStore::Counts counts = ctx.batches.counts(t.id);
  const bool published = !t.result_dataset_id.empty() && ctx.datasets.find(t.result_dataset_id) &&
                         ctx.datasets.find(t.result_dataset_id)->status == kDatasetReady;
  std::string status = "validating";
  if (t.status == kTaskInProgress) status = t.extra.contains("cancelling_at") ? "cancelling" : "in_progress";
  if (t.status == kTaskCompleted) status = "completed";
  if (t.status == kTaskFailed) status = "failed";
  if (t.status == kTaskCanceled) status = published || t.started_at_ms == 0 ? "cancelled" : "cancelling";
  const auto at = [](int64_t ms) { return ms ? ojson(seconds(ms)) : ojson(nullptr); };
  ojson errors = nullptr;
  if (t.extra.contains("errors")) errors = {{"object", "list"}, {"data", ojson::parse(t.extra["errors"].dump())}};
  const ojson metadata = t.extra.contains("metadata") ? ojson::parse(t.extra["metadata"].dump()) : ojson(nullptr);
  const int64_t cancelling = t.extra.value("cancelling_at", int64_t{0});
  return {{"id", t.id}, {"object", "batch"}, {"endpoint", t.extra.value("endpoint", "")}, {"errors", errors},
          {"input_file_id", t.source_dataset_id}, {"completion_window", "24h"}, {"status", status},
          {"output_file_id", published && t.status != kTaskFailed ? ojson(t.result_dataset_id) : ojson(nullptr)},
          {"error_file_id", t.error_dataset_id.empty() ? ojson(nullptr) : ojson(t.error_dataset_id)},
          {"created_at", seconds(t.created_at_ms)}, {"in_progress_at", at(t.started_at_ms)},
          {"expires_at", seconds(t.created_at_ms) + 24 * 3600},
          {"finalizing_at", t.status == kTaskCompleted ? at(t.finished_at_ms) : ojson(nullptr)},
          {"completed_at", t.status == kTaskCompleted ? at(t.finished_at_ms) : ojson(nullptr)},
          {"failed_at", t.status == kTaskFailed ? at(t.finished_at_ms) : ojson(nullptr)}, {"expired_at", nullptr},
          {"cancelling_at", at(cancelling)},
          {"cancelled_at", t.status == kTaskCanceled ? at(t.finished_at_ms) : ojson(nullptr)},
          {"request_counts", {{"total", t.total_lines}, {"completed", counts.done - counts.failed}, {"failed", counts.failed}}},
          {"metadata", metadata}};
}

// A generation line's model (name, branch); throws RowError for what it would be refused for.
std::pair<std::string, std::string> check_generation_line(const ApiContext& ctx, const HttpRequest& http, const ApiKeyRecord& key,
                                                          const BatchLine& line, const std::string& endpoint) {
  const openai::Call call = openai::parse_request(line.body, endpoint == "/v1/chat/completions", ctx.limits, http, key);
  if (call.stream) throw RowError("invalid_body", "stream is not available in batches");
  try {
    GenerationService::check_supported(call.request);
    GenerationService::check_output_format(call.request);
  } catch (const ServiceError& e) {
    throw RowError("unsupported_feature", e.what());
  }
  const bool has_images = std::any_of(call.request.messages.begin(), call.request.messages.end(),
                                      [](const Message& m) { return !m.images.empty(); });
  const ModelConfig* config = ctx.models.config().find(call.request.model);
  if (has_images && config && config->kind != ModelKind::kVision)
    throw RowError("unsupported_feature", "model '" + config->name + "' (kind " + model_kind_name(config->kind) +
                   ") does not take images");
  return {call.request.model, call.request.branch};
}

std::pair<std::string, std::string> check_embedding_line(const HttpRequest& http, const ApiKeyRecord& key, const BatchLine& line) {
  const openai::EmbeddingCall call = openai::parse_embedding_request(line.body, http, key);
  return {call.request.model, call.request.branch};
}

// Checks every line of the input file; returns the errors (at most kMaxReportedErrors) and the model of the lines.
nlohmann::json check_lines(const ApiContext& ctx, const HttpRequest& http, const ApiKeyRecord& key, const std::string& path,
                           const std::string& endpoint, GenerationRequest& base, int64_t& rows) {
  nlohmann::json errors = nlohmann::json::array();
  auto report = [&](int64_t line, const std::string& code, const std::string& message) {
    if (errors.size() < kMaxReportedErrors) errors.push_back({{"code", code}, {"message", message}, {"param", nullptr}, {"line", line}});
  };
  std::set<std::string> ids;
  std::string model;
  LineReader reader(path, size_t{16} << 20);
  std::string text;
  bool too_long;
  rows = 0;
  while (reader.next(text, too_long)) {
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    ++rows;
    const int64_t n = reader.line_number();
    try {
      if (too_long) throw RowError("line_too_long", "the line exceeds 16 MiB");
      const BatchLine line = read_line(text);
      if (!ids.insert(line.custom_id).second) throw RowError("duplicate_custom_id", "custom_id '" + line.custom_id + "' is used twice");
      if (line.url != endpoint) throw RowError("mismatched_url", "url '" + line.url + "' is not the batch's endpoint " + endpoint);
      const auto [name, branch] = endpoint == kEmbeddings ? check_embedding_line(http, key, line)
                                                          : check_generation_line(ctx, http, key, line, endpoint);
      if (model.empty()) {
        model = line.body["model"];
        base.model = name;
        base.branch = branch;
      } else if (line.body["model"] != model) {
        throw RowError("mismatched_model", "every line of a batch must use the same model (" + model + ")");
      }
    } catch (const RowError& e) {
      report(n, e.kind(), e.what());
    } catch (const ApiError& e) {
      report(n, "invalid_body", e.what());
    }
  }
  if (rows == 0) report(0, "empty_file", "the input file has no lines");
  if (!model.empty() && errors.empty()) {
    const ModelConfig* m = ctx.models.config().find(base.model);
    if (!m || !m->branches.count(base.branch)) report(0, "model_not_found", "model '" + model + "' does not exist");
    else if ((endpoint == kEmbeddings) != (m->kind == ModelKind::kEmbedding))
      report(0, "invalid_model", "model '" + model + "' (kind " + model_kind_name(m->kind) + ") does not serve " + endpoint);
  }
  return errors;
}

void create(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const ojson json = parse_json_body(http.body, ctx.limits.max_json_depth);
  const JsonField body(json);
  const std::string input = body["input_file_id"].string();
  const std::string endpoint = body["endpoint"].string();
  if (endpoint != "/v1/chat/completions" && endpoint != "/v1/completions" && endpoint != kEmbeddings)
    body["endpoint"].fail("must be /v1/chat/completions, /v1/completions or /v1/embeddings (got " + quote_value(endpoint) + ")");
  if (body["completion_window"].string() != "24h") body["completion_window"].fail("must be \"24h\"");
  const JsonField metadata = body["metadata"];
  if (metadata.present()) {
    metadata.require_object();
    if (metadata.raw().size() > 16) metadata.fail("may hold at most 16 pairs");
    for (const auto& [k, v] : metadata.raw().items())
      if (!v.is_string() || k.size() > 64 || v.get<std::string>().size() > 512) metadata.fail("values must be strings of at most 512 characters");
  }
  const Dataset file = openai::find_file(ctx, key.folder, input);
  if (file.metadata != "batch") body["input_file_id"].fail("must name a file uploaded with purpose \"batch\"");

  BatchTask task;
  task.folder = key.folder;
  task.created_by = key.id;
  task.dialect = kDialect;
  task.source_dataset_id = file.id;
  task.completion_request = nlohmann::json::parse(json.dump());
  task.extra = {{"endpoint", endpoint}};
  if (metadata.present()) task.extra["metadata"] = nlohmann::json::parse(metadata.raw().dump());
  GenerationRequest base;
  const nlohmann::json errors = check_lines(ctx, http, key, ctx.datasets.content_path(file.id), endpoint, base, task.total_lines);
  task.model_uri = base.model;
  task.generation = to_json(base);
  if (!errors.empty()) {
    task.extra["errors"] = errors;
    task.failure = "the input file has invalid lines";
    reply->json(200, batch_json(ctx, ctx.batches.record_failed(std::move(task))));
    return;
  }
  reply->json(200, batch_json(ctx, ctx.batches.submit(std::move(task)).first));
}

BatchTask find_batch(const ApiContext& ctx, const std::string& folder, const std::string& id) {
  try {
    BatchTask t = ctx.batches.get(folder, id);
    if (t.dialect == kDialect) return t;
  } catch (const ServiceError&) {
  }
  throw ApiError(ErrorCode::kNotFound, "No such Batch object: " + id, "not_found");
}

void list(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const QueryParams q(http.target);
  const size_t limit = q.size_or("limit", 20, 100);
  const std::string after = q.get("after");
  std::vector<BatchTask> mine;
  for (const BatchTask& t : ctx.batches.list(key.folder, 100000, "").tasks)
    if (t.dialect == kDialect) mine.push_back(t);
  std::reverse(mine.begin(), mine.end());  // newest first, as OpenAI lists
  size_t start = 0;
  if (!after.empty()) {
    while (start < mine.size() && mine[start].id != after) ++start;
    start = start < mine.size() ? start + 1 : mine.size();
  }
  ojson data = ojson::array();
  for (size_t i = start; i < mine.size() && data.size() < limit; ++i) data.push_back(batch_json(ctx, mine[i]));
  const bool more = start + data.size() < mine.size();
  reply->json(200, {{"object", "list"}, {"data", data}, {"first_id", data.empty() ? ojson(nullptr) : data.front()["id"]},
                    {"last_id", data.empty() ? ojson(nullptr) : data.back()["id"]}, {"has_more", more}});
}

}  // namespace

void add_openai_batch_routes(Router& router, const ApiContext& ctx) {
  ctx.batches.add_format(kDialect, std::make_shared<OpenAiBatchFormat>(ctx.limits), {kFileTaskType}, kFileTaskType);
  router.add("POST", "/v1/batches", Dialect::kOpenAi, [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    create(ctx, http, reply);
  });
  router.add("GET", "/v1/batches", Dialect::kOpenAi, [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    list(ctx, http, reply);
  });
  router.add("GET", "/v1/batches/{id}", Dialect::kOpenAi, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    const ApiKeyRecord key = authenticate(http, ctx.keys);
    reply->json(200, batch_json(ctx, find_batch(ctx, key.folder, p[0])));
  });
  router.add("POST", "/v1/batches/{id}/cancel", Dialect::kOpenAi, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    const ApiKeyRecord key = authenticate(http, ctx.keys);
    const BatchTask t = find_batch(ctx, key.folder, p[0]);
    if (is_terminal_task_status(t.status)) {
      if (t.status != kTaskCanceled)
        throw ApiError(ErrorCode::kFailedPrecondition, "Cannot cancel a batch with status '" + batch_json(ctx, t)["status"].get<std::string>() + "'.", "invalid_request_error");
      return reply->json(200, batch_json(ctx, t));
    }
    reply->json(200, batch_json(ctx, ctx.batches.cancel(key.folder, t.id)));
  });
}

}  // namespace fm
