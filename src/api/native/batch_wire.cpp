#include "api/native/batch_wire.h"

#include "api/native/native_wire.h"
#include "service/dataset_rows.h"

namespace fm::native {

namespace {

ojson labels_json(const std::map<std::string, std::string>& labels) {
  ojson out = ojson::object();
  for (const auto& [k, v] : labels) out[k] = v;
  return out;
}

std::map<std::string, std::string> parse_labels(const JsonField& field) {
  std::map<std::string, std::string> labels;
  if (!field.present()) return labels;
  field.require_object();
  if (field.raw().size() > 64) field.fail("may hold at most 64 labels");
  for (auto it = field.raw().begin(); it != field.raw().end(); ++it) {
    if (!it->is_string()) field[it.key()].fail("must be a string");
    if (it.key().empty() || it.key().size() > 63) field.fail("keys must be 1 to 63 characters");
    labels[it.key()] = it->get<std::string>();
  }
  return labels;
}

}  // namespace

ojson dataset_json(const Dataset& d) {
  ojson errors = ojson::array();
  for (const auto& e : d.validation_errors) {
    ojson rows = ojson::array();
    for (int64_t r : e.rows) rows.push_back(std::to_string(r));
    errors.push_back({{"error", e.error}, {"errorDescription", e.description}, {"rowNumbers", rows}});
  }
  return {{"datasetId", d.id}, {"folderId", d.folder}, {"name", d.name}, {"description", d.description},
          {"metadata", d.metadata}, {"status", d.status}, {"taskType", d.task_type}, {"uploadFormat", d.upload_format},
          {"createdAt", timestamp(d.created_at_ms)}, {"updatedAt", timestamp(d.updated_at_ms)},
          {"rows", std::to_string(d.rows)}, {"sizeBytes", std::to_string(d.size_bytes)}, {"labels", labels_json(d.labels)},
          {"createdBy", d.created_by}, {"updatedBy", d.updated_by}, {"validationError", errors},
          {"allowDataLog", d.allow_data_log}};
}

ojson task_json(const BatchTask& t, const std::vector<LineError>& line_errors) {
  ojson lines = ojson::array();
  for (const LineError& e : line_errors) lines.push_back({{"lineNumber", std::to_string(e.line)}, {"message", e.message}});
  ojson status = ojson::object();
  if (t.status == kTaskFailed) status = {{"code", 13}, {"message", t.failure}, {"details", ojson::array()}};
  if (t.status == kTaskCanceled) status = {{"code", 1}, {"message", "the task was cancelled"}, {"details", ojson::array()}};
  ojson out = {{"taskId", t.id}, {"operationId", t.operation_id}, {"folderId", t.folder}, {"modelUri", t.model_uri},
               {"sourceDatasetId", t.source_dataset_id}, {"completionRequest", ojson::parse(t.completion_request.dump())},
               {"status", t.status}, {"resultDatasetId", t.result_dataset_id}, {"labels", labels_json(t.labels)},
               {"createdBy", t.created_by}, {"createdAt", timestamp(t.created_at_ms)}};
  if (t.started_at_ms) out["startedAt"] = timestamp(t.started_at_ms);
  if (t.finished_at_ms) out["finishedAt"] = timestamp(t.finished_at_ms);
  out["errors"] = {{"status", status}, {"lineErrors", lines}, {"batchErrors", ojson::array()}};
  return out;
}

DatasetCreateCall parse_dataset_create(const ojson& json_body) {
  const JsonField body(json_body, /*snake_aliases=*/true);
  DatasetCreateCall call;
  call.folder = body["folderId"].string();
  DatasetDraft& d = call.draft;
  d.name = body["name"].string();
  if (d.name.empty() || d.name.size() > 63) body["name"].fail("must be 1 to 63 characters");
  d.description = body["description"].string_or("");
  d.metadata = body["metadata"].string_or("");
  d.task_type = body["taskType"].string();
  const auto& types = dataset_task_types();
  if (std::find(types.begin(), types.end(), d.task_type) == types.end())
    body["taskType"].fail("is not a known task type (got " + quote_value(d.task_type) + ")");
  d.upload_format = body["uploadFormat"].string();
  if (d.upload_format != "jsonlines") body["uploadFormat"].fail("must be \"jsonlines\"");
  d.labels = parse_labels(body["labels"]);
  d.allow_data_log = body["allowDataLog"].boolean_or(false);
  return call;
}

DatasetUpdate parse_dataset_update(const ojson& json_body) {
  const JsonField body(json_body, /*snake_aliases=*/true);
  const std::string mask = body["updateMask"].string_or("");
  auto wanted = [&](const char* field) {
    if (mask.empty()) return body[field].present();
    const std::string m = "," + mask + ",";
    return m.find(std::string(",") + field + ",") != std::string::npos;
  };
  for (size_t start = 0; start < mask.size();) {
    size_t end = mask.find(',', start);
    if (end == std::string::npos) end = mask.size();
    const std::string field = mask.substr(start, end - start);
    if (field != "name" && field != "description" && field != "labels")
      body["updateMask"].fail("names a field that cannot be updated (" + quote_value(field) + "; name, description, labels)");
    start = end + 1;
  }
  DatasetUpdate u;
  if (wanted("name")) u.name = body["name"].string_or("");
  if (wanted("description")) u.description = body["description"].string_or("");
  if (wanted("labels")) u.labels = parse_labels(body["labels"]);
  return u;
}

ojson upload_schema(const std::string& task_type) {
  const ojson text_message = {{"type", "object"}, {"required", {"role", "text"}},
                              {"properties", {{"role", {{"enum", {"system", "user", "assistant"}}}}, {"text", {{"type", "string"}}}}}};
  const ojson part = {{"type", "object"}, {"required", {"type"}},
                      {"properties", {{"type", {{"enum", {"text", "image"}}}}, {"text", {{"type", "string"}}},
                                      {"image", {{"type", "string"}, {"contentEncoding", "base64"}}}}}};
  const ojson image_message = {{"type", "object"}, {"required", {"role"}},
                               {"properties", {{"role", {{"enum", {"system", "user", "assistant"}}}}, {"text", {{"type", "string"}}},
                                               {"content", {{"type", "array"}, {"minItems", 1}, {"items", part}}}}}};
  const bool images = task_type == kImageTextToTextRequest || task_type == kImageTextToText;
  ojson schema = {{"$schema", "https://json-schema.org/draft/2020-12/schema"}, {"type", "object"}, {"required", {"request"}},
                  {"properties", {{"request", {{"type", "array"}, {"minItems", 1}, {"items", images ? image_message : text_message}}}}}};
  if (task_type == kTextToText || task_type == kImageTextToText) {
    schema["required"].push_back("response");
    schema["properties"]["response"] = {{"type", "string"}};
  }
  if (!is_generation_task_type(task_type)) schema = {{"type", "object"}};
  return schema;
}

}  // namespace fm::native
