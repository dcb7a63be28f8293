// The OpenAI Files API over datasets: /v1/files (multipart upload, list), /v1/files/{id} (retrieve, delete),
// /v1/files/{id}/content. A file is a dataset of type OpenAIFile in the key's folder; other folders' files are 404.
#include <filesystem>
#include <fstream>

#include "api/auth.h"
#include "api/multipart.h"
#include "api/openai/openai_files.h"
#include "api/query.h"
#include "api/routes.h"

namespace fm {
namespace openai {

ojson file_json(const Dataset& d) {
  return {{"id", d.id}, {"object", "file"}, {"bytes", d.size_bytes}, {"created_at", d.created_at_ms / 1000},
          {"filename", d.name}, {"purpose", d.metadata}, {"status", "processed"}, {"expires_at", nullptr},
          {"status_details", nullptr}};
}

Dataset find_file(const ApiContext& ctx, const std::string& folder, const std::string& id) {
  try {
    const Dataset d = ctx.datasets.get(folder, id);
    if (d.task_type == kFileTaskType && d.status == kDatasetReady) return d;
  } catch (const ServiceError&) {
  }
  throw ApiError(ErrorCode::kNotFound, "No such File object: " + id, "not_found");
}

}  // namespace openai

namespace {

const char* const kPurposes[] = {"batch", "batch_output", "fine-tune", "assistants", "vision", "user_data", "evals"};

void upload(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const std::vector<FormPart> parts = parse_multipart(http.header("content-type"), http.body);
  const FormPart* file = nullptr;
  std::string purpose;
  for (const FormPart& p : parts) {
    if (p.name == "file") file = &p;
    if (p.name == "purpose") purpose = std::string(p.data);
  }
  if (!file) throw bad_request("the form has no 'file' part", "missing_required_parameter");
  if (purpose.empty()) throw bad_request("the form has no 'purpose' part", "missing_required_parameter");
  if (std::find(std::begin(kPurposes), std::end(kPurposes), purpose) == std::end(kPurposes) || purpose == "batch_output")
    throw bad_request("purpose must be one of batch, fine-tune, assistants, vision, user_data, evals (got " + quote_value(purpose) + ")");
  const std::string filename = file->filename.empty() ? "upload.jsonl" : file->filename;
  reply->json(200, openai::file_json(ctx.datasets.create_file(key.folder, key.id, filename, purpose, file->data)));
}

void list(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const QueryParams q(http.target);
  DatasetQuery query;
  query.folder = key.folder;
  query.task_types = {kFileTaskType};
  query.statuses = {kDatasetReady};
  query.page_size = 10000;
  const std::string purpose = q.get("purpose");
  ojson data = ojson::array();
  for (const Dataset& d : ctx.datasets.list(query).datasets)
    if (purpose.empty() || d.metadata == purpose) data.push_back(openai::file_json(d));
  reply->json(200, {{"object", "list"}, {"data", data}, {"has_more", false}});
}

// The file, streamed at the client's pace.
void content(const ApiContext& ctx, const HttpRequest& http, const std::string& id, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const Dataset d = openai::find_file(ctx, key.folder, id);
  reply->file("application/octet-stream", ctx.datasets.content_path(d.id));
}

}  // namespace

void add_openai_file_routes(Router& router, const ApiContext& ctx) {
  router.add("POST", "/v1/files", Dialect::kOpenAi, [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    upload(ctx, http, reply);
  });
  router.add("GET", "/v1/files", Dialect::kOpenAi, [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    list(ctx, http, reply);
  });
  router.add("GET", "/v1/files/{id}", Dialect::kOpenAi, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    const ApiKeyRecord key = authenticate(http, ctx.keys);
    reply->json(200, openai::file_json(openai::find_file(ctx, key.folder, p[0])));
  });
  router.add("GET", "/v1/files/{id}/content", Dialect::kOpenAi, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    content(ctx, http, p[0], reply);
  });
  router.add("DELETE", "/v1/files/{id}", Dialect::kOpenAi, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    const ApiKeyRecord key = authenticate(http, ctx.keys);
    const Dataset d = openai::find_file(ctx, key.folder, p[0]);
    ctx.datasets.remove(key.folder, d.id);
    reply->json(200, {{"id", d.id}, {"object", "file"}, {"deleted", true}});
  });
}

}  // namespace fm
