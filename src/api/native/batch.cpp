// POST /foundationModels/v1/completionBatch (a batch task over a dataset, as an Operation) and the task routes
// fmserve serves for the cloud's gRPC-only BatchInferenceService: /batchInference/v1/tasks[/{id}[:cancel]].
#include "api/auth.h"
#include "api/native/batch_wire.h"
#include "api/native/native_wire.h"
#include "api/query.h"
#include "api/routes.h"
#include "service/dataset_rows.h"

namespace fm {
namespace {

constexpr size_t kLineErrorsShown = 1000;

void completion_batch(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  const ojson body = parse_json_body(http.body, ctx.limits.max_json_depth);
  const native::BatchCompletionCall call = native::parse_batch_completion(body, ctx.limits, http, key);
  const ModelConfig* model = ctx.models.config().find(call.base.model);
  if (!model || !model->branches.count(call.base.branch))
    throw ApiError(ErrorCode::kNotFound, "model '" + call.base.model + "/" + call.base.branch + "' does not exist", "model_not_found");
  if (model->kind != ModelKind::kText && model->kind != ModelKind::kVision)
    throw ApiError(ErrorCode::kInvalidArgument, "model '" + call.base.model + "' does not generate text", "invalid_model");
  // Rows with images need a vision model: refused here rather than failing every line at run time (a dataset that
  // is not READY is refused for that first, by submit).
  const Dataset source = ctx.datasets.get(key.folder, call.source_dataset_id);
  const bool images = source.task_type == kImageTextToTextRequest || source.task_type == kImageTextToText;
  if (images && source.status == kDatasetReady && model->kind != ModelKind::kVision)
    throw ApiError(ErrorCode::kInvalidArgument, "dataset '" + source.id + "' has rows with images and model '" + call.base.model +
                   "' (kind " + model_kind_name(model->kind) + ") does not take images", "invalid_model");
  BatchTask task;
  task.folder = key.folder;
  task.created_by = key.id;
  task.model_uri = call.model_uri;
  task.source_dataset_id = call.source_dataset_id;
  task.generation = to_json(call.base);
  task.completion_request = nlohmann::json::parse(body.dump());
  const Operation op = ctx.batches.submit(std::move(task)).second;
  reply->json(200, native::operation_json(op));
}

ojson task_json(const ApiContext& ctx, const BatchTask& task) {
  return native::task_json(task, ctx.batches.line_errors(task.id, kLineErrorsShown));
}

}  // namespace

void add_batch_routes(Router& router, const ApiContext& ctx) {
  router.add("POST", "/foundationModels/v1/completionBatch", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { completion_batch(ctx, http, reply); });
  router.add("GET", "/batchInference/v1/tasks", Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    const ApiKeyRecord key = authenticate(http, ctx.keys);
    const QueryParams q(http.target);
    const std::string folder = q.get("folderId", key.folder);
    if (folder != key.folder)
      throw ApiError(ErrorCode::kPermissionDenied, "the API key has no access to folder '" + folder + "'", "permission_denied");
    const BatchTaskPage page = ctx.batches.list(folder, q.size_or("pageSize", 100, 1000), q.get("pageToken"));
    ojson tasks = ojson::array();
    for (const BatchTask& t : page.tasks) tasks.push_back(task_json(ctx, t));
    reply->json(200, {{"tasks", tasks}, {"nextPageToken", page.next_page_token}});
  });
  router.add("GET", "/batchInference/v1/tasks/{id}", Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    const ApiKeyRecord key = authenticate(http, ctx.keys);
    reply->json(200, {{"task", task_json(ctx, ctx.batches.get(key.folder, p[0]))}});
  });
  router.add("POST", "/batchInference/v1/tasks/{id}:cancel", Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    const ApiKeyRecord key = authenticate(http, ctx.keys);
    reply->json(200, {{"taskId", ctx.batches.cancel(key.folder, p[0]).id}});
  });
  router.add("DELETE", "/batchInference/v1/tasks/{id}", Dialect::kNative, [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    const ApiKeyRecord key = authenticate(http, ctx.keys);
    ctx.batches.remove(key.folder, p[0]);
    reply->json(200, {{"taskId", p[0]}});
  });
}

}  // namespace fm
