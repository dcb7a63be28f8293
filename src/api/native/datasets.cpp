// Datasets on fmserve's REST routes (the cloud's DatasetService is gRPC-only): /datasets/v1/datasets[/{id}[:verb]],
// /datasets/v1/uploadSchemas, /datasets/v1/types, and the token-carrying upload and download URLs (which, like
// presigned URLs, take no API key).
#include <filesystem>
#include <fstream>

#include "api/auth.h"
#include "api/native/batch_wire.h"
#include "api/native/native_wire.h"
#include "api/query.h"
#include "api/routes.h"
#include "service/dataset_rows.h"

namespace fm {
namespace {

using Handler = std::function<void(const HttpRequest&, const RouteParams&, const std::shared_ptr<Reply>&)>;

// The caller's folder; a folderId naming another folder is refused.
std::string caller_folder(const ApiKeyRecord& key, const std::string& folder_id) {
  if (!folder_id.empty() && folder_id != key.folder)
    throw ApiError(ErrorCode::kPermissionDenied, "the API key has no access to folder '" + folder_id + "'", "permission_denied");
  return key.folder;
}

std::string base_url(const HttpRequest& http) {
  const std::string host = http.header("host");
  return host.empty() ? std::string() : "http://" + host;
}

std::string upload_url(const HttpRequest& http, const Dataset& d) { return base_url(http) + "/datasets/v1/uploads/" + d.upload_token; }

void create(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const native::DatasetCreateCall call = native::parse_dataset_create(parse_json_body(http.body, ctx.limits.max_json_depth));
  const Dataset d = ctx.datasets.create(caller_folder(key, call.folder), key.id, call.draft);
  reply->json(200, {{"datasetId", d.id}, {"dataset", native::dataset_json(d)}});
}

void list(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const QueryParams q(http.target);
  DatasetQuery query;
  query.folder = caller_folder(key, q.get("folderId"));
  query.statuses = q.all("status");
  query.task_types = q.all("taskTypeFilter");
  query.ids = q.all("datasetIds");
  query.name_pattern = q.get("datasetNamePattern");
  query.page_size = q.size_or("pageSize", 100, 1000);
  query.page_token = q.get("pageToken");
  const DatasetPage page = ctx.datasets.list(query);
  ojson items = ojson::array();
  for (const Dataset& d : page.datasets) items.push_back(native::dataset_json(d));
  reply->json(200, {{"datasets", items}, {"nextPageToken", page.next_page_token}});
}

void upload_parts(const ApiContext& ctx, const HttpRequest& http, const std::string& id, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const ojson json = parse_json_body(http.body, ctx.limits.max_json_depth);
  const JsonField body(json, /*snake_aliases=*/true);  // a view: `json` must outlive it
  const int64_t size = body["sizeBytes"].int64_or(0, 0, INT64_MAX);
  const int parts = static_cast<int>(body["parts"].int64_or(0, 1, 10000));
  if (parts == 0) body["parts"].fail("is required (1 to 10000)");
  const Dataset d = ctx.datasets.prepare_multipart(key.folder, id, size, parts);
  ojson urls = ojson::array();
  for (int i = 1; i <= parts; ++i) urls.push_back(upload_url(http, d) + "/parts/" + std::to_string(i));
  reply->json(200, {{"datasetId", d.id}, {"multipartUploadUrls", urls}});
}

void finish_parts(const ApiContext& ctx, const HttpRequest& http, const std::string& id, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const ojson json = parse_json_body(http.body, ctx.limits.max_json_depth);
  const JsonField body(json, /*snake_aliases=*/true);
  const JsonField list = body["uploadedParts"];
  list.require_present();
  const size_t n = list.array(10000);
  std::vector<std::pair<int, std::string>> parts;
  for (size_t i = 0; i < n; ++i)
    parts.emplace_back(static_cast<int>(list[i]["partNum"].int64_or(0, 1, 10000)), list[i]["etag"].string());
  const Dataset d = ctx.datasets.finish_multipart(key.folder, id, parts);
  reply->json(200, {{"datasetId", d.id}});
}

void dataset_verb(const ApiContext& ctx, const HttpRequest& http, const std::string& id, const std::string& verb,
                  const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  if (verb == "getUploadDraftUrl") {
    const ojson json = parse_json_body(http.body.empty() ? "{}" : http.body, ctx.limits.max_json_depth);
    const JsonField body(json, /*snake_aliases=*/true);
    const Dataset d = ctx.datasets.prepare_upload(key.folder, id, body["sizeBytes"].int64_or(0, 0, INT64_MAX));
    reply->json(200, {{"datasetId", d.id}, {"uploadUrl", upload_url(http, d)}});
  } else if (verb == "validate") {
    reply->json(200, native::operation_json(ctx.datasets.validate(key.folder, id, key.id)));
  } else if (verb == "getDownloadUrls") {
    const Dataset d = ctx.datasets.get(key.folder, id);
    ojson urls = ojson::array();
    if (d.size_bytes > 0 || d.status == kDatasetReady)
      urls.push_back({{"key", "main"}, {"url", base_url(http) + "/datasets/v1/downloads/" + d.upload_token}});
    reply->json(200, {{"datasetId", d.id}, {"downloadUrls", urls}});
  } else if (verb == "preview") {
    const QueryParams q(http.target);
    ojson lines = ojson::array();
    for (const std::string& line : ctx.datasets.preview(key.folder, id, q.size_or("lines", 10, 1000))) lines.push_back(line);
    reply->json(200, {{"datasetId", id}, {"previewLines", lines}});
  } else if (verb == "startMultipartUploadDraft") {
    upload_parts(ctx, http, id, reply);
  } else if (verb == "finishMultipartUploadDraft") {
    finish_parts(ctx, http, id, reply);
  } else {
    throw ApiError(ErrorCode::kNotFound, "unknown dataset method ':" + verb + "'", "not_found");
  }
}

void store_upload(const ApiContext& ctx, const HttpRequest& http, const std::string& token, int part, const std::shared_ptr<Reply>& reply) {
  const std::string etag = http.body_file.empty() ? ctx.datasets.store_upload(token, part, http.body)
                                                  : ctx.datasets.store_upload_file(token, part, http.body_file);
  reply->json(200, ojson::object(), {{"ETag", etag}});
}

// The content, streamed from its file at the client's pace (any size; never held in memory).
void download(const ApiContext& ctx, const std::string& token, const std::shared_ptr<Reply>& reply) {
  const auto [dataset, file] = ctx.datasets.download(token);
  reply->file("application/jsonl", file);
}

}  // namespace

void add_dataset_routes(Router& router, const ApiContext& ctx) {
  const std::string base = "/datasets/v1/datasets";
  router.add("POST", base, Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    create(ctx, http, reply);
  });
  router.add("GET", base, Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    list(ctx, http, reply);
  });
  router.add("GET", base + "/{id}", Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    const ApiKeyRecord key = authenticate(http, ctx.keys);
    reply->json(200, {{"dataset", native::dataset_json(ctx.datasets.get(key.folder, p[0]))}});
  });
  router.add("PATCH", base + "/{id}", Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    const ApiKeyRecord key = authenticate(http, ctx.keys);
    const DatasetUpdate update = native::parse_dataset_update(parse_json_body(http.body, ctx.limits.max_json_depth));
    reply->json(200, {{"dataset", native::dataset_json(ctx.datasets.update(key.folder, p[0], key.id, update))}});
  });
  router.add("DELETE", base + "/{id}", Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    const ApiKeyRecord key = authenticate(http, ctx.keys);
    ctx.datasets.remove(key.folder, p[0]);
    reply->json(200, ojson::object());
  });
  for (const char* verb : {"getUploadDraftUrl", "startMultipartUploadDraft", "finishMultipartUploadDraft", "validate"})
    router.add("POST", base + "/{id}:" + verb, Dialect::kNative,
               [&ctx, verb = std::string(verb)](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
                 dataset_verb(ctx, http, p[0], verb, reply);
               });
  for (const char* verb : {"getDownloadUrls", "preview"})
    router.add("GET", base + "/{id}:" + verb, Dialect::kNative,
               [&ctx, verb = std::string(verb)](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
                 dataset_verb(ctx, http, p[0], verb, reply);
               });
  router.add("GET", "/datasets/v1/uploadSchemas", Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    authenticate(http, ctx.keys);
    const std::string only = QueryParams(http.target).get("taskType");
    ojson schemas = ojson::array();
    for (const std::string& type : dataset_task_types())
      if (only.empty() || only == type)
        schemas.push_back({{"taskType", type}, {"uploadFormat", "jsonlines"}, {"schema", native::upload_schema(type).dump()}});
    reply->json(200, {{"schemas", schemas}});
  });
  router.add("GET", "/datasets/v1/types", Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    authenticate(http, ctx.keys);
    reply->json(200, {{"types", dataset_task_types()}});
  });
  router.add("PUT", "/datasets/v1/uploads/{token}", Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    store_upload(ctx, http, p[0], 0, reply);
  });
  router.add("PUT", "/datasets/v1/uploads/{token}/parts/{n}", Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    const std::string& n = p[1];
    if (n.empty() || n.size() > 5 || n.find_first_not_of("0123456789") != std::string::npos)
      throw bad_request("the part number must be 1 to 10000");
    store_upload(ctx, http, p[0], std::stoi(n), reply);
  });
  router.add("GET", "/datasets/v1/downloads/{token}", Dialect::kNative, [&ctx](const HttpRequest&, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    download(ctx, p[0], reply);
  });
}

}  // namespace fm
