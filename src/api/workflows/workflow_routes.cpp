// The Workflows API (REST, camelCase): /workflows/v1/workflow[/{id}] (create → Operation, get, update → Operation,
// delete → Operation, list) and /workflows/v1/execution (start → {executionId}, get, history, stop, terminate,
// list). Handlers translate; workflow::WorkflowService does the work.
#include "api/auth.h"
#include "api/native/native_wire.h"
#include "api/query.h"
#include "api/routes.h"
#include "workflow/workflow_service.h"

namespace fm {
namespace {

using workflow::WorkflowService;
constexpr const char* kWorkflowType = "type.googleapis.com/yandex.cloud.serverless.workflows.v1.Workflow";

ApiKeyRecord workflow_key(const ApiContext& ctx, const HttpRequest& http) {
  ApiKeyRecord key = authenticate(http, ctx.keys);
  // Workflows call the folder's models: the key needs a model scope.
  if (!key.has_scope(kScopeFoundationModels) && !key.has_scope(kScopeLanguageModels))
    throw ApiError(ErrorCode::kPermissionDenied, "the API key lacks the scope yc.ai.foundationModels.execute", "insufficient_scope");
  return key;
}

std::string folder_of(const ApiKeyRecord& key, const std::string& requested) {
  if (!requested.empty() && requested != key.folder)
    throw ApiError(ErrorCode::kPermissionDenied, "the API key has no access to folder '" + requested + "'", "permission_denied");
  return key.folder;
}

std::string duration_text(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

ojson workflow_json(const WorkflowRecord& w) {
  return {{"id", w.id}, {"folderId", w.folder}, {"specification", {{"specYaml", w.spec_yaml}}},
          {"createdAt", native::timestamp(w.created_at_ms)}, {"name", w.name}, {"description", w.description},
          {"labels", w.labels}, {"status", "ACTIVE"}};
}

ojson execution_json(const ExecutionRecord& e) {
  ojson out = {{"id", e.id}, {"workflowId", e.workflow_id}, {"input", {{"inputJson", e.input.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)}}}, {"status", e.status}};
  if (e.result) out["result"] = {{"resultJson", e.result->dump()}};
  if (!e.error_code.empty()) out["error"] = {{"message", e.error_message}, {"errorCode", e.error_code}};
  if (e.started_at_ms) {
    out["startedAt"] = native::timestamp(e.started_at_ms);
    out["duration"] = duration_text((e.finished_at_ms ? e.finished_at_ms : now_ms()) - e.started_at_ms);
  }
  return out;
}

ojson history_entry(const StoredStep& s) {
  ojson out = {{"id", s.key}, {"title", s.title}, {"type", s.type}, {"status", s.status == "FINISHED" ? "COMPLETED" : "FAILED"},
               {"startedAt", native::timestamp(s.started_at_ms)}, {"duration", duration_text(s.finished_at_ms - s.started_at_ms)},
               {"input", {{"inputJson", s.input.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)}}}, {"attempts", std::to_string(s.attempts)}};
  if (!s.output.is_null()) out["output"] = {{"outputJson", s.output.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)}};
  if (!s.error_code.empty()) out["error"] = {{"message", s.error_message}, {"errorCode", s.error_code}};
  return out;
}

// Workflow changes answer as Operations that are already done (the cloud's shape for them).
ojson done_operation(const ApiContext& ctx, const ApiKeyRecord& key, const std::string& description, const ojson& metadata,
                     const ojson& response) {
  OperationStore& store = ctx.operations.store();
  const Operation op = store.create(key.folder, "workflow_change", description, key.id, nlohmann::json::object());
  store.set_metadata(op.id, nlohmann::json::parse(metadata.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)));
  store.complete(op.id, nlohmann::json::parse(response.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)));
  return native::operation_json(*store.get(op.id));
}

WorkflowRecord workflow_from_body(const JsonField& body, WorkflowRecord w) {
  if (body["name"].present()) w.name = body["name"].string();
  if (body["description"].present()) w.description = body["description"].string();
  if (body["labels"].present()) {
    body["labels"].require_object();
    for (auto it = body["labels"].raw().begin(); it != body["labels"].raw().end(); ++it)
      if (!it.value().is_string()) body["labels"][it.key()].fail("must be a string");
    w.labels = body["labels"].raw();
  }
  if (body["specification"].present()) w.spec_yaml = body["specification"]["specYaml"].string();
  return w;
}

void create_workflow(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = workflow_key(ctx, http);
  const ojson json_body = parse_json_body(http.body, ctx.limits.max_json_depth);
  const JsonField body(json_body, true);
  WorkflowRecord w;
  w.folder = folder_of(key, body["folderId"].string_or(""));
  body["name"].require_present();
  body["specification"]["specYaml"].require_present();
  const WorkflowRecord created = ctx.workflows->create(workflow_from_body(body, w));
  ojson response = {{"@type", kWorkflowType}};
  response.update(workflow_json(created));
  reply->json(200, done_operation(ctx, key, "Create workflow", {{"workflowId", created.id}}, response));
}

void update_workflow(const ApiContext& ctx, const HttpRequest& http, const std::string& id, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = workflow_key(ctx, http);
  const ojson json_body = parse_json_body(http.body, ctx.limits.max_json_depth);
  const JsonField body(json_body, true);
  const WorkflowRecord updated = ctx.workflows->update(key.folder, workflow_from_body(body, ctx.workflows->get(key.folder, id)));
  ojson response = {{"@type", kWorkflowType}};
  response.update(workflow_json(updated));
  reply->json(200, done_operation(ctx, key, "Update workflow", {{"workflowId", id}}, response));
}

void start_execution(const ApiContext& ctx, const HttpRequest& http, const std::shared_ptr<Reply>& reply) {
  const ApiKeyRecord key = workflow_key(ctx, http);
  const ojson json_body = parse_json_body(http.body, ctx.limits.max_json_depth);
  const JsonField body(json_body, true);
  const std::string workflow_id = body["workflowId"].string();
  ojson input = ojson::object();
  if (body["input"].present()) {
    const std::string text = body["input"]["inputJson"].string_or("{}");
    input = ojson::parse(text, nullptr, false);
    if (input.is_discarded()) body["input"]["inputJson"].fail("is not valid JSON");
  }
  reply->json(200, {{"executionId", ctx.workflows->start_execution(key.folder, workflow_id, input, key.id)}});
}

using Handler = void (*)(const ApiContext&, const ApiKeyRecord&, const HttpRequest&, const RouteParams&, const std::shared_ptr<Reply>&);

void add(Router& router, const ApiContext& ctx, const char* method, const char* path, Handler h) {
  router.add(method, path, Dialect::kNative, [&ctx, h](const HttpRequest& http, const RouteParams& params, const std::shared_ptr<Reply>& reply) {
    h(ctx, workflow_key(ctx, http), http, params, reply);
  });
}

}  // namespace

void add_workflow_routes(Router& router, const ApiContext& ctx) {
  if (!ctx.workflows) return;
  router.add("POST", "/workflows/v1/workflow", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { create_workflow(ctx, http, reply); });
  router.add("PATCH", "/workflows/v1/workflow/{id}", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams& p, const std::shared_ptr<Reply>& reply) { update_workflow(ctx, http, p[0], reply); });
  add(router, ctx, "GET", "/workflows/v1/workflow/{id}", [](const ApiContext& c, const ApiKeyRecord& key, const HttpRequest&, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    reply->json(200, workflow_json(c.workflows->get(key.folder, p[0])));
  });
  add(router, ctx, "DELETE", "/workflows/v1/workflow/{id}", [](const ApiContext& c, const ApiKeyRecord& key, const HttpRequest&, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    c.workflows->remove(key.folder, p[0]);
    reply->json(200, done_operation(c, key, "Delete workflow", {{"workflowId", p[0]}}, {{"@type", "type.googleapis.com/google.protobuf.Empty"}}));
  });
  add(router, ctx, "GET", "/workflows/v1/workflow", [](const ApiContext& c, const ApiKeyRecord& key, const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    const QueryParams q(http.target);
    const workflow::WorkflowPage page = c.workflows->list(folder_of(key, q.get("folderId")), q.size_or("pageSize", 100, 1000), q.get("pageToken"));
    ojson list = ojson::array();
    for (const auto& w : page.workflows) list.push_back(workflow_json(w));
    reply->json(200, {{"workflows", list}, {"nextPageToken", page.next_page_token}});
  });
  router.add("POST", "/workflows/v1/execution/start", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) { start_execution(ctx, http, reply); });
  add(router, ctx, "GET", "/workflows/v1/execution/{id}", [](const ApiContext& c, const ApiKeyRecord& key, const HttpRequest&, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    reply->json(200, {{"execution", execution_json(c.workflows->execution(key.folder, p[0]))}});
  });
  add(router, ctx, "GET", "/workflows/v1/execution/{id}/history", [](const ApiContext& c, const ApiKeyRecord& key, const HttpRequest&, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    ojson entries = ojson::array();
    for (const StoredStep& s : c.workflows->history(key.folder, p[0])) entries.push_back(history_entry(s));
    reply->json(200, {{"execution", execution_json(c.workflows->execution(key.folder, p[0]))}, {"entries", entries}});
  });
  add(router, ctx, "POST", "/workflows/v1/execution/{id}/stop", [](const ApiContext& c, const ApiKeyRecord& key, const HttpRequest&, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    c.workflows->stop(key.folder, p[0]);
    reply->json(200, {{"executionId", p[0]}});
  });
  add(router, ctx, "POST", "/workflows/v1/execution/{id}/terminate", [](const ApiContext& c, const ApiKeyRecord& key, const HttpRequest&, const RouteParams& p, const std::shared_ptr<Reply>& reply) {
    c.workflows->terminate(key.folder, p[0]);
    reply->json(200, {{"executionId", p[0]}});
  });
  add(router, ctx, "GET", "/workflows/v1/execution", [](const ApiContext& c, const ApiKeyRecord& key, const HttpRequest& http, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    const QueryParams q(http.target);
    const workflow::ExecutionPage page = c.workflows->executions(folder_of(key, q.get("folderId")), q.get("workflowId"), q.size_or("pageSize", 100, 1000), q.get("pageToken"));
    ojson list = ojson::array();
    for (const auto& e : page.executions) list.push_back(execution_json(e));
    reply->json(200, {{"executions", list}, {"nextPageToken", page.next_page_token}});
  });
}

}  // namespace fm
