#include "api/openai/openai_wire.h"

#include <chrono>
#include <ctime>

#include "api/auth.h"
#include "api/reply.h"
#include "store/random_id.h"

namespace fm::openai {
namespace {


std::string role_of(const JsonField& field) {
  const std::string role = field.string();
  if (role == "developer") return "system";  // OpenAI's newer name for the system role
  if (role == "system" || role == "user" || role == "assistant" || role == "tool") return role;
  field.fail("must be one of system, developer, user, assistant, tool (got " + quote_value(role) + ")");
}

// message.content: a string, null, or an array of text / image_url parts.
void parse_content(const JsonField& content, const RequestLimits& limits, Message& m) {
  if (!content.present()) return;
  if (content.raw().is_string()) {
    m.text = content.string();
    return;
  }
  if (!content.raw().is_array()) content.fail("must be a string or an array of content parts");
  const size_t n = content.array(static_cast<size_t>(limits.max_content_parts));
  for (size_t i = 0; i < n; ++i) {
    const JsonField part = content[i];
    part.require_object();
    const std::string type = part["type"].string();
    if (type == "text") {
      m.text += part["text"].string();
    } else if (type == "image_url") {
      const JsonField url = part["image_url"];
      m.images.push_back({url.raw().is_string() ? url.string() : url["url"].string(), m.text.size()});
    } else {
      part["type"].fail("must be text or image_url (got " + quote_value(type) + ")");
    }
  }
}

void parse_tool_calls(const JsonField& calls, const RequestLimits& limits, Message& m) {
  const size_t n = calls.array(static_cast<size_t>(limits.max_tools));
  for (size_t i = 0; i < n; ++i) {
    const JsonField call = calls[i];
    call.require_object();
    const JsonField fn = call["function"];
    fn.require_object();
    m.tool_calls.push_back({call["id"].string_or(""), fn["name"].string(), fn["arguments"].string_or("{}")});
  }
}

std::vector<Message> parse_messages(const JsonField& messages, const RequestLimits& limits) {
  messages.require_present();
  const size_t n = messages.array(static_cast<size_t>(limits.max_messages));
  if (n == 0) messages.fail("must not be empty");
  std::vector<Message> out;
  for (size_t i = 0; i < n; ++i) {
    const JsonField msg = messages[i];
    msg.require_object();
    Message m;
    m.role = role_of(msg["role"]);
    parse_content(msg["content"], limits, m);
    parse_tool_calls(msg["tool_calls"], limits, m);
    m.tool_call_id = msg["tool_call_id"].string_or("");
    m.name = msg["name"].string_or("");
    out.push_back(std::move(m));
  }
  return out;
}

void parse_tools(const JsonField& body, const RequestLimits& limits, GenerationRequest& r) {
  const JsonField tools = body["tools"];
  const size_t n = tools.array(static_cast<size_t>(limits.max_tools));
  for (size_t i = 0; i < n; ++i) {
    const JsonField fn = tools[i]["function"];
    fn.require_object();
    ToolSpec spec;
    spec.name = fn["name"].string();
    spec.description = fn["description"].string_or("");
    if (fn["parameters"].present()) fn["parameters"].require_object();
    spec.parameters = fn["parameters"].raw();
    spec.strict = fn["strict"].boolean_or(false);
    r.tools.push_back(std::move(spec));
  }
  const JsonField choice = body["tool_choice"];
  if (choice.present()) {
    if (choice.raw().is_string()) {
      const size_t c = choice.enum_or(0, {"none", "auto", "required"});
      r.tool_choice = c == 0 ? "none" : c == 1 ? "auto" : "required";
    } else {
      r.tool_choice = choice["function"]["name"].string();
    }
  }
  const JsonField format = body["response_format"];
  if (format.present()) {
    const size_t type = format["type"].enum_or(0, {"text", "json_object", "json_schema"});
    r.format = type == 0 ? OutputFormat::kText : type == 1 ? OutputFormat::kJsonObject : OutputFormat::kJsonSchema;
    if (r.format == OutputFormat::kJsonSchema) {
      format["json_schema"].require_object();
      r.json_schema = format["json_schema"]["schema"].raw();
    }
  }
}

std::vector<std::string> parse_stop(const JsonField& stop, const RequestLimits& limits) {
  std::vector<std::string> out;
  if (!stop.present()) return out;
  if (stop.raw().is_string()) {
    out.push_back(stop.string());
  } else {
    const size_t n = stop.array(static_cast<size_t>(limits.max_stop_strings));
    for (size_t i = 0; i < n; ++i) out.push_back(stop[i].string());
  }
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  return out;
}

ojson bytes_of(const std::string& s) {
  ojson b = ojson::array();
  for (unsigned char c : s) b.push_back(c);
  return b;
}

ojson chat_logprob(const TokenLogprob& t) {
  ojson top = ojson::array();
  for (const auto& [token, logprob] : t.top) top.push_back({{"token", token}, {"logprob", logprob}, {"bytes", bytes_of(token)}});
  return {{"token", t.token}, {"logprob", t.logprob}, {"bytes", bytes_of(t.token)}, {"top_logprobs", top}};
}

// The legacy /v1/completions shape: parallel arrays.
ojson legacy_logprobs(const std::vector<TokenLogprob>& entries) {
  ojson tokens = ojson::array(), token_logprobs = ojson::array(), top = ojson::array(), offsets = ojson::array();
  size_t offset = 0;
  for (const TokenLogprob& e : entries) {
    tokens.push_back(e.token);
    token_logprobs.push_back(e.logprob);
    ojson alternatives = ojson::object();
    for (const auto& [token, logprob] : e.top) alternatives[token] = logprob;
    top.push_back(alternatives);
    offsets.push_back(offset);
    offset += e.token.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets}};
}

const char* finish_reason(FinishStatus f) {
  switch (f) {
    case FinishStatus::kLength: return "length";
    case FinishStatus::kToolCalls: return "tool_calls";
    case FinishStatus::kContentFilter: return "content_filter";
    default: return "stop";
  }
}

// Chat usage carries completion_tokens_details (reasoning tokens), as OpenAI's does; legacy completions' does not.
ojson usage_json(const GenerationUsage& u, bool chat) {
  ojson out = {{"prompt_tokens", u.prompt_tokens}, {"completion_tokens", u.completion_tokens}, {"total_tokens", u.total()}};
  if (chat) out["completion_tokens_details"] = {{"reasoning_tokens", u.reasoning_tokens}};
  return out;
}

ojson envelope(const Call& call, const char* object) {
  return {{"id", call.id}, {"object", object}, {"created", call.created}, {"model", call.model_id}, {"system_fingerprint", "fmserve"}};
}

ojson chunk(const Call& call, ojson choices) {
  ojson c = envelope(call, call.chat ? "chat.completion.chunk" : "text_completion");
  c["choices"] = std::move(choices);
  return c;
}

}  // namespace

Call parse_request(const ojson& json_body, bool chat, const RequestLimits& limits, const HttpRequest& http,
                   const ApiKeyRecord& key) {
  const JsonField body(json_body);
  Call call;
  call.chat = chat;
  call.model_id = body["model"].string();
  const ModelUri uri = authorize_model(call.model_id, "model", "gpt", http, key);
  GenerationRequest& r = call.request;
  r.model = uri.name;
  r.branch = uri.branch;
  if (chat) {
    r.messages = parse_messages(body["messages"], limits);
    parse_tools(body, limits, r);
  } else {
    r.prompt = body["prompt"].string();
  }
  r.sampling.temperature = static_cast<float>(body["temperature"].number_or(1.0, 0, 2));
  r.sampling.top_p = static_cast<float>(body["top_p"].number_or(1.0, 0, 1));
  r.sampling.top_k = 0;
  r.sampling.min_p = 0;
  r.sampling.seed = static_cast<uint64_t>(body["seed"].integer_or(static_cast<int64_t>(random_seed()), INT64_MIN, INT64_MAX));
  r.presence_penalty = static_cast<float>(body["presence_penalty"].number_or(0, -2, 2));
  r.frequency_penalty = static_cast<float>(body["frequency_penalty"].number_or(0, -2, 2));
  int64_t max_tokens = body["max_completion_tokens"].integer_or(-1, 1, INT32_MAX);
  if (max_tokens < 0) max_tokens = body["max_tokens"].integer_or(-1, 1, INT32_MAX);
  if (max_tokens > 0) r.max_tokens = max_tokens;
  r.n = call.n = static_cast<int>(body["n"].integer_or(1, 1, 16));
  if (chat) {
    call.logprobs = body["logprobs"].boolean_or(false);
    const int64_t top = body["top_logprobs"].integer_or(0, 0, 20);
    r.top_logprobs = call.logprobs ? static_cast<int>(top) : -1;
  } else {
    call.logprobs = body["logprobs"].present();
    r.top_logprobs = call.logprobs ? static_cast<int>(body["logprobs"].integer_or(0, 0, 20)) : -1;
  }
  r.stop = parse_stop(body["stop"], limits);
  call.stream = body["stream"].boolean_or(false);
  const JsonField stream_options = body["stream_options"];
  if (stream_options.present()) stream_options.require_object();
  call.include_usage = stream_options["include_usage"].boolean_or(false);
  call.id = random_id(chat ? "chatcmpl-" : "cmpl-", 24);
  call.created = static_cast<int64_t>(std::time(nullptr));
  return call;
}

ojson tool_calls_json(const std::vector<ToolCall>& calls, bool indexed) {
  ojson out = ojson::array();
  for (size_t k = 0; k < calls.size(); ++k) {
    ojson c = {{"id", calls[k].id}, {"type", "function"}, {"function", {{"name", calls[k].name}, {"arguments", calls[k].arguments}}}};
    if (indexed) c["index"] = k;
    out.push_back(std::move(c));
  }
  return out;
}

ojson tool_calls_chunk(const Call& call, int choice, const std::vector<ToolCall>& calls) {
  ojson c = {{"index", choice}, {"delta", {{"tool_calls", tool_calls_json(calls, true)}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
  return chunk(call, ojson::array({c}));
}

ojson response(const Call& call, const GenerationResult& result) {
  ojson choices = ojson::array();
  for (size_t i = 0; i < result.choices.size(); ++i) {
    const GenerationChoice& c = result.choices[i];
    ojson lp;
    if (call.logprobs && call.chat) {
      lp = {{"content", ojson::array()}};
      for (const auto& t : c.logprobs) lp["content"].push_back(chat_logprob(t));
    } else if (call.logprobs) {
      lp = legacy_logprobs(c.logprobs);
    }
    if (call.chat) {
      ojson message = {{"role", "assistant"}, {"content", c.text}, {"refusal", nullptr}};
      if (!c.reasoning.empty()) message["reasoning_content"] = c.reasoning;  // the reasoning models' convention
      if (!c.tool_calls.empty()) {
        if (c.text.empty()) message["content"] = nullptr;
        message["tool_calls"] = tool_calls_json(c.tool_calls, false);
      }
      choices.push_back({{"index", i}, {"message", std::move(message)}, {"logprobs", lp}, {"finish_reason", finish_reason(c.finish)}});
    } else {
      choices.push_back({{"index", i}, {"text", c.text}, {"logprobs", lp}, {"finish_reason", finish_reason(c.finish)}});
    }
  }
  ojson out = envelope(call, call.chat ? "chat.completion" : "text_completion");
  out["choices"] = std::move(choices);
  out["usage"] = usage_json(result.usage, call.chat);
  return out;
}

ojson first_chunk(const Call& call) {
  ojson all = ojson::array();
  for (int i = 0; i < call.n; ++i) {
    if (call.chat)
      all.push_back({{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
    else
      all.push_back({{"index", i}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
  }
  return chunk(call, std::move(all));
}

ojson delta_chunk(const Call& call, const TextEvent& e) {
  ojson delta = ojson::object();
  if (!e.reasoning_delta.empty()) delta["reasoning_content"] = e.reasoning_delta;
  if (!e.delta.empty() || e.reasoning_delta.empty()) delta["content"] = e.delta;
  ojson c = call.chat ? ojson{{"index", e.choice}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", nullptr}}
                      : ojson{{"index", e.choice}, {"text", e.delta}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
  if (e.logprob && call.logprobs)
    c["logprobs"] = call.chat ? ojson{{"content", ojson::array({chat_logprob(*e.logprob)})}} : legacy_logprobs({*e.logprob});
  return chunk(call, ojson::array({c}));
}

ojson finish_chunk(const Call& call, int choice, FinishStatus finish) {
  ojson c = call.chat ? ojson{{"index", choice}, {"delta", ojson::object()}, {"logprobs", nullptr}, {"finish_reason", finish_reason(finish)}}
                      : ojson{{"index", choice}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", finish_reason(finish)}};
  return chunk(call, ojson::array({c}));
}

ojson usage_chunk(const Call& call, const GenerationUsage& usage) {
  ojson c = chunk(call, ojson::array());
  c["usage"] = usage_json(usage, call.chat);
  return c;
}

std::string sse_event(const ojson& j) { return "data: " + dump_json(j) + "\n\n"; }

}  // namespace fm::openai
