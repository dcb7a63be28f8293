#include "api/workflows/step_calls.h"

#include <future>
#include <thread>

#include "api/native/native_wire.h"
#include "workflow/http_call.h"

namespace fm {
namespace {

using workflow::json;
using workflow::StepFailure;

[[noreturn]] void bad(const std::string& message) { throw StepFailure("STEP_INVALID_ARGUMENT", message); }

StepFailure from_service(const ServiceError& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kNotFound:
    case ErrorCode::kPermissionDenied:
    case ErrorCode::kFailedPrecondition:
      return StepFailure("STEP_INVALID_ARGUMENT", e.what());
    case ErrorCode::kDeadlineExceeded:
      return StepFailure("STEP_TIMEOUT", e.what());
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kUnavailable:
      return StepFailure("STEP_RESOURCE_EXHAUSTED", e.what());
    default:
      return StepFailure("STEP_INTERNAL", e.what());
  }
}

// A number written as a number or a numeric string (templates often yield strings).
double number(const json& spec, const char* key, double fallback, double lo, double hi) {
  if (!spec.contains(key) || spec[key].is_null()) return fallback;
  const json& v = spec[key];
  double x = 0;
  if (v.is_number()) x = v.get<double>();
  else if (v.is_string()) {
    try {
      size_t used = 0;
      x = std::stod(v.get<std::string>(), &used);
      if (used != v.get<std::string>().size()) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
      bad(std::string(key) + " must be a number (got '" + v.get<std::string>() + "')");
    }
  } else {
    bad(std::string(key) + " must be a number");
  }
  if (!(x >= lo && x <= hi)) bad(std::string(key) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

std::string text_of(const json& v, const std::string& what) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) bad(what + " is required");
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// `json` fields hold JSON as text: the templated string is parsed here.
json parse_embedded(const json& v, const std::string& what) {
  if (!v.is_string()) return v;
  json parsed = json::parse(v.get<std::string>(), nullptr, false);
  if (parsed.is_discarded()) bad(what + " is not valid JSON");
  return parsed;
}

Message to_message(const json& m, bool vision) {
  if (!m.is_object()) bad("a message must be an object {role, text}");
  Message out;
  out.role = m.value("role", std::string("user"));
  if (out.role != "system" && out.role != "user" && out.role != "assistant") bad("message role must be system, user or assistant (got '" + out.role + "')");
  out.text = m.contains("text") ? text_of(m["text"], "message text") : "";
  if (!vision || !m.contains("images")) return out;
  if (out.role != "user") bad("a message with images must have role 'user'");
  const json images = m["images"].is_array() ? m["images"] : json::array({m["images"]});
  for (const json& img : images) {
    if (img.contains("base64")) {
      out.images.push_back({"data:image/jpeg;base64," + text_of(img["base64"], "images.base64"), std::string::npos});
    } else if (img.contains("file") && img["file"].contains("url")) {
      out.images.push_back({text_of(img["file"]["url"], "images.file.url"), std::string::npos});
    } else if (img.contains("file") && img["file"].contains("objectStorage")) {
      const json& os = img["file"]["objectStorage"];
      out.images.push_back({"s3://" + text_of(os.value("bucket", json()), "objectStorage.bucket") + "/" +
                                text_of(os.value("object", json()), "objectStorage.object"),
                            std::string::npos});
    } else {
      bad("an image needs base64 or file {url | objectStorage}");
    }
  }
  return out;
}

std::vector<Message> messages_of(const json& spec, bool vision) {
  json list;
  if (spec.contains("json")) {
    list = parse_embedded(spec["json"], "json");
    if (list.is_object() && list.contains("messages")) list = list["messages"];
  } else if (spec.contains("messages") && spec["messages"].is_object()) {
    list = spec["messages"].value("messages", json());
  }
  if (!list.is_array() || list.empty()) bad("messages must be a non-empty list");
  std::vector<Message> out;
  for (const json& m : list) out.push_back(to_message(m, vision));
  return out;
}

// The services answer on their own threads; the step waits, and abandons the call when the execution is
// terminated or the step's deadline passes.
template <typename T>
T wait_for(std::future<T>& f, const workflow::CallContext& ctx, const std::function<void()>& cancel) {
  while (f.wait_for(std::chrono::milliseconds(25)) != std::future_status::ready) {
    if ((ctx.terminated && ctx.terminated->load()) || std::chrono::steady_clock::now() > ctx.deadline) {
      if (cancel) cancel();
      if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) throw StepFailure("STEP_INTERNAL", "the model did not stop");
      if (ctx.terminated && ctx.terminated->load()) throw StepFailure("STEP_INTERNAL", "the execution was terminated");
      throw StepFailure("STEP_TIMEOUT", "the model call ran longer than the step's timeout");
    }
  }
  return f.get();
}

class Collector final : public GenerationObserver {
 public:
  std::promise<GenerationResult> promise;
  void on_finished(const GenerationResult& r) override { promise.set_value(r); }
  void on_failed(const ServiceError& e) override { promise.set_exception(std::make_exception_ptr(e)); }
};

}  // namespace

json ServiceStepCalls::foundation_models_call(const json& call, const workflow::CallContext& ctx) {
  std::string error;
  const std::string url = text_of(call.value("modelUrl", json()), "modelUrl");
  std::optional<ModelUri> uri = parse_model_uri(url, &error);
  if (!uri) bad("modelUrl: " + error);
  if (!uri->folder.empty() && uri->folder != ctx.folder)
    bad("modelUrl '" + url + "' is in folder '" + uri->folder + "', not in the workflow's folder '" + ctx.folder + "'");
  const bool classify_call = call.contains("classify") || call.contains("fewShotClassify");
  const char* scheme = classify_call ? "cls" : "gpt";
  if (!uri->scheme.empty() && uri->scheme != scheme) bad("modelUrl must be a " + std::string(scheme) + ":// URI here (got '" + url + "')");
  try {
    if (call.contains("generate")) return generate(*uri, call["generate"], false, ctx);
    if (call.contains("vision")) return generate(*uri, call["vision"], true, ctx);
    return classify(*uri, call, ctx);
  } catch (const ServiceError& e) {
    throw from_service(e);
  }
}

json ServiceStepCalls::generate(const ModelUri& uri, const json& spec, bool vision, const workflow::CallContext& ctx) {
  GenerationRequest r;
  r.model = uri.name;
  r.branch = uri.branch;
  r.messages = messages_of(spec, vision);
  r.sampling.temperature = static_cast<float>(number(spec, "temperature", 0.3, 0, 2));
  r.sampling.seed = random_seed();
  r.max_tokens = static_cast<int64_t>(number(spec, "maxTokens", 0, 1, 1e9));
  r.max_tokens_is_ceiling = true;
  const std::string mode = spec.contains("reasoningOptions") ? spec["reasoningOptions"].value("mode", std::string()) : "";
  if (mode == "DISABLED") r.reasoning = ReasoningMode::kDisabled;
  else if (mode == "ENABLED_HIDDEN") r.reasoning = ReasoningMode::kEnabledHidden;
  else if (!mode.empty() && mode != "REASONING_MODE_UNSPECIFIED") bad("reasoningOptions.mode must be DISABLED or ENABLED_HIDDEN");
  if (spec.value("jsonObject", false)) r.format = OutputFormat::kJsonObject;
  if (spec.contains("jsonSchema")) {
    json schema = parse_embedded(spec["jsonSchema"], "jsonSchema");
    if (schema.is_object() && schema.contains("schema") && schema["schema"].is_object()) schema = schema["schema"];
    if (!schema.is_object()) bad("jsonSchema must be a JSON Schema object");
    r.format = OutputFormat::kJsonSchema;
    r.json_schema = schema;
  }
  r.priority = Priority::kBackground;
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(ctx.deadline - std::chrono::steady_clock::now()).count();
  r.timeout = std::chrono::seconds(std::max<int64_t>(1, left));
  auto collector = std::make_shared<Collector>();
  std::future<GenerationResult> f = collector->promise.get_future();
  auto handle = generation_.start(std::move(r), collector);
  const GenerationResult result = wait_for(f, ctx, [handle] { handle->cancel(); });
  return native::completion_response(result);
}

json ServiceStepCalls::classify(const ModelUri& uri, const json& call, const workflow::CallContext& ctx) {
  auto promise = std::make_shared<std::promise<ClassificationResult>>();
  std::future<ClassificationResult> f = promise->get_future();
  const auto done = [promise](const ClassificationResult* result, const ServiceError* error) {
    if (error) promise->set_exception(std::make_exception_ptr(*error));
    else promise->set_value(*result);
  };
  if (call.contains("classify")) {
    TextClassificationRequest r;
    r.model = uri.name;
    r.branch = uri.branch;
    r.text = text_of(call["classify"].value("text", json()), "classify.text");
    classification_.classify(std::move(r), done);
  } else {
    const json& spec = call["fewShotClassify"];
    FewShotRequest r;
    r.model = uri.name;
    r.branch = uri.branch;
    r.task_description = spec.contains("taskDescription") ? text_of(spec["taskDescription"], "taskDescription") : "";
    r.text = text_of(spec.value("text", json()), "fewShotClassify.text");
    json labels = spec.contains("labelsJson") ? parse_embedded(spec["labelsJson"], "labelsJson")
                                              : spec["labelsArray"].value("labels", json());
    if (labels.is_object() && labels.contains("labels")) labels = labels["labels"];
    if (!labels.is_array()) bad("the labels must be a list of strings");
    for (const json& l : labels) r.labels.push_back(text_of(l, "a label"));
    json samples = spec.contains("samplesJson") ? parse_embedded(spec["samplesJson"], "samplesJson")
                   : spec.contains("samplesArray") ? spec["samplesArray"].value("samples", json::array())
                                                   : json::array();
    if (samples.is_object()) samples = samples.contains("samples") ? samples["samples"] : json::array({samples});
    if (!samples.is_array()) bad("the samples must be a list of {text, label}");
    for (const json& s : samples) {
      if (!s.is_object()) bad("a sample must be {text, label}");
      r.samples.emplace_back(text_of(s.value("text", json()), "sample text"), text_of(s.value("label", json()), "sample label"));
    }
    classification_.few_shot(std::move(r), done);
  }
  return native::classification_json(wait_for(f, ctx, nullptr));
}

json ServiceStepCalls::http_call(const json& call, const workflow::CallContext& ctx) { return workflow::http_call(call, ctx, fetch_); }

}  // namespace fm
