#include "api/native/native_wire.h"

#include <ctime>

#include "api/auth.h"
#include "service/operation_runner.h"

namespace fm::native {
namespace {


std::string int64_string(int64_t v) { return std::to_string(v); }

// A message's oneof content: text, toolCallList or toolResultList.
Message parse_message(const JsonField& msg, const RequestLimits& limits) {
  msg.require_object();
  Message m;
  const JsonField role = msg["role"];
  m.role = role.string();
  if (m.role != "system" && m.role != "user" && m.role != "assistant")
    role.fail("must be one of system, user, assistant (got " + quote_value(m.role) + ")");
  const JsonField text = msg["text"], calls = msg["toolCallList"], results = msg["toolResultList"];
  const int set = text.present() + calls.present() + results.present();
  if (set != 1) msg.fail("must have exactly one of text, toolCallList, toolResultList");
  if (text.present()) {
    m.text = text.string();
  } else if (calls.present()) {
    const JsonField list = calls["toolCalls"];
    const size_t n = list.array(static_cast<size_t>(limits.max_tools));
    for (size_t i = 0; i < n; ++i) {
      const JsonField fn = list[i]["functionCall"];
      fn.require_object();
      const JsonField args = fn["arguments"];
      if (args.present()) args.require_object();
      m.tool_calls.push_back({"", fn["name"].string(), args.present() ? args.raw().dump() : "{}"});
    }
  } else {
    const JsonField list = results["toolResults"];
    const size_t n = list.array(static_cast<size_t>(limits.max_tools));
    if (n != 1) list.fail("must hold exactly one tool result per message");
    const JsonField fn = list[0]["functionResult"];
    fn.require_object();
    m.role = "tool";
    m.name = fn["name"].string();
    m.text = fn["content"].string_or("");
  }
  return m;
}

void parse_tools(const JsonField& body, const RequestLimits& limits, GenerationRequest& r) {
  const JsonField tools = body["tools"];
  const size_t n = tools.array(static_cast<size_t>(limits.max_tools));
  for (size_t i = 0; i < n; ++i) {
    const JsonField fn = tools[i]["function"];
    fn.require_object();
    if (fn["parameters"].present()) fn["parameters"].require_object();
    r.tools.push_back({fn["name"].string(), fn["description"].string_or(""), fn["parameters"].raw(), fn["strict"].boolean_or(false)});
  }
  const JsonField choice = body["toolChoice"];
  if (choice.present()) {
    choice.require_object();
    if (choice["functionName"].present()) {
      r.tool_choice = choice["functionName"].string();
    } else {
      const size_t mode = choice["mode"].enum_or(0, {"TOOL_CHOICE_MODE_UNSPECIFIED", "NONE", "AUTO", "REQUIRED"});
      r.tool_choice = mode == 1 ? "none" : mode == 2 ? "auto" : mode == 3 ? "required" : "";
    }
  }
  body["parallelToolCalls"].boolean_or(true);  // type-checked; the model decides how many calls it writes
  const JsonField json_object = body["jsonObject"], json_schema = body["jsonSchema"];
  if (json_object.present() && json_schema.present()) body.fail("may have only one of jsonObject, jsonSchema");
  if (json_object.boolean_or(false)) r.format = OutputFormat::kJsonObject;
  if (json_schema.present()) {
    json_schema.require_object();
    json_schema["schema"].require_object();
    r.format = OutputFormat::kJsonSchema;
    r.json_schema = json_schema["schema"].raw();
  }
}

const char* alternative_status(FinishStatus f) {
  switch (f) {
    case FinishStatus::kLength: return "ALTERNATIVE_STATUS_TRUNCATED_FINAL";
    case FinishStatus::kToolCalls: return "ALTERNATIVE_STATUS_TOOL_CALLS";
    case FinishStatus::kContentFilter: return "ALTERNATIVE_STATUS_CONTENT_FILTER";
    default: return "ALTERNATIVE_STATUS_FINAL";
  }
}

ojson usage_json(int64_t prompt, int64_t completion) {
  return {{"inputTextTokens", int64_string(prompt)}, {"completionTokens", int64_string(completion)},
          {"totalTokens", int64_string(prompt + completion)}};
}

}  // namespace

namespace {

// modelUri and completionOptions, shared by completion and completionBatch. Returns the options' `stream`.
bool parse_model_and_options(const JsonField& body, const HttpRequest& http, const ApiKeyRecord& key, GenerationRequest& r) {
  const JsonField model_uri = body["modelUri"];
  const ModelUri uri = authorize_model(model_uri.string(), "modelUri", "gpt", http, key);
  r.model = uri.name;
  r.branch = uri.branch;
  const JsonField options = body["completionOptions"];
  if (options.present()) options.require_object();
  const bool stream = options["stream"].boolean_or(false);
  r.sampling.temperature = static_cast<float>(options["temperature"].number_or(0.3, 0, 1));
  r.sampling.top_p = 1;
  r.sampling.top_k = 0;
  r.sampling.min_p = 0;
  r.sampling.seed = random_seed();
  if (options["maxTokens"].present()) r.max_tokens = options["maxTokens"].int64_or(0, 1, INT32_MAX);
  r.max_tokens_is_ceiling = true;  // the service caps maxTokens at what the model's context allows
  const size_t mode = options["reasoningOptions"]["mode"].enum_or(0, {"REASONING_MODE_UNSPECIFIED", "DISABLED", "ENABLED_HIDDEN"});
  r.reasoning = mode == 1 ? ReasoningMode::kDisabled : mode == 2 ? ReasoningMode::kEnabledHidden : ReasoningMode::kUnspecified;
  return stream;
}

}  // namespace

CompletionCall parse_completion(const ojson& json_body, const RequestLimits& limits, const HttpRequest& http,
                                const ApiKeyRecord& key) {
  const JsonField body(json_body, /*snake_aliases=*/true);
  CompletionCall call;
  GenerationRequest& r = call.request;
  call.stream = parse_model_and_options(body, http, key, r);
  const JsonField messages = body["messages"];
  messages.require_present();
  const size_t n = messages.array(static_cast<size_t>(limits.max_messages));
  if (n == 0) messages.fail("must not be empty");
  for (size_t i = 0; i < n; ++i) r.messages.push_back(parse_message(messages[i], limits));
  parse_tools(body, limits, r);
  return call;
}

BatchCompletionCall parse_batch_completion(const ojson& json_body, const RequestLimits& limits, const HttpRequest& http,
                                           const ApiKeyRecord& key) {
  const JsonField body(json_body, /*snake_aliases=*/true);
  BatchCompletionCall call;
  call.model_uri = body["modelUri"].string_or("");
  if (parse_model_and_options(body, http, key, call.base)) body["completionOptions"]["stream"].fail("is not available for batches");
  call.source_dataset_id = body["sourceDatasetId"].string();
  parse_tools(body, limits, call.base);  // the output format; tools are ignored in batches
  call.base.tools.clear();
  call.base.tool_choice.clear();
  return call;
}

ojson completion_response(const GenerationResult& result) {
  ojson alternatives = ojson::array();
  for (const GenerationChoice& c : result.choices) {
    ojson message = {{"role", "assistant"}, {"text", c.text}};
    if (!c.tool_calls.empty()) {
      // A tool call replaces the text.
      ojson calls = ojson::array();
      for (const ToolCall& t : c.tool_calls)
        calls.push_back({{"functionCall", {{"name", t.name}, {"arguments", ojson::parse(t.arguments, nullptr, false)}}}});
      message = {{"role", "assistant"}, {"toolCallList", {{"toolCalls", calls}}}};
    }
    alternatives.push_back({{"message", std::move(message)}, {"status", alternative_status(c.finish)}});
  }
  ojson usage = usage_json(result.usage.prompt_tokens, result.usage.completion_tokens);
  usage["completionTokensDetails"] = {{"reasoningTokens", int64_string(result.usage.reasoning_tokens)}};
  return {{"alternatives", alternatives}, {"usage", usage}, {"modelVersion", result.model_version}};
}

ojson partial_response(const std::string& text, int64_t prompt_tokens, int64_t completion_tokens, const std::string& model_version) {
  return {{"alternatives", ojson::array({{{"message", {{"role", "assistant"}, {"text", text}}}, {"status", "ALTERNATIVE_STATUS_PARTIAL"}}})},
          {"usage", usage_json(prompt_tokens, completion_tokens)},
          {"modelVersion", model_version}};
}

std::string timestamp(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (const int ms = static_cast<int>(unix_ms % 1000); ms != 0) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d", ms);
    out += frac;
  }
  return out + "Z";
}

ojson operation_json(const Operation& op) {
  ojson out = {{"id", op.id}, {"description", op.description}, {"createdAt", timestamp(op.created_at_ms)},
               {"createdBy", op.created_by}, {"modifiedAt", timestamp(op.modified_at_ms)}, {"done", op.done},
               {"metadata", op.metadata.is_null() ? ojson(nullptr) : ojson::parse(op.metadata.dump())}};
  if (op.error) {
    out["error"] = {{"code", op.error->code}, {"message", op.error->message}, {"details", ojson::array()}};
  } else if (op.response && op.kind == kCompletionOperation) {
    ojson response = {{"@type", kCompletionResponseType}};
    const ojson body = completion_response(generation_result_from_json(*op.response));
    for (auto it = body.begin(); it != body.end(); ++it) response[it.key()] = *it;
    out["response"] = std::move(response);
  } else if (op.response) {
    // Dataset validations and batch tasks store their response messages in the wire shape (with @type).
    out["response"] = ojson::parse(op.response->dump());
  }
  return out;
}

ojson tokens_json(const TokenizeResult& result) {
  ojson tokens = ojson::array();
  for (const PromptToken& t : result.tokens) tokens.push_back({{"id", int64_string(t.id)}, {"text", t.text}, {"special", t.special}});
  return {{"tokens", tokens}, {"modelVersion", result.model_version}};
}

ojson classification_json(const ClassificationResult& result) {
  ojson predictions = ojson::array();
  for (const auto& [label, confidence] : result.predictions) predictions.push_back({{"label", label}, {"confidence", confidence}});
  return {{"predictions", predictions}, {"modelVersion", result.model_version}, {"inputTokens", int64_string(result.input_tokens)}};
}

ojson embedding_json(const EmbeddingResult& result) {
  ojson values = ojson::array();
  for (float v : result.embeddings.at(0)) values.push_back(static_cast<double>(v));
  return {{"embedding", values}, {"numTokens", int64_string(result.tokens.at(0))}, {"modelVersion", result.model_version}};
}

}  // namespace fm::native
