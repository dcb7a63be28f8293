// The internal JSON of generation requests and results: how stored operations keep them across restarts.
// Not a wire format: each API dialect has its own (de)serialisation in src/api/.
#include "service/generation.h"

#include <random>

namespace fm {

using json = nlohmann::json;

uint64_t random_seed() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng() >> 1;  // fits an int64 too
}

const char* finish_status_name(FinishStatus status) {
  switch (status) {
    case FinishStatus::kStop: return "stop";
    case FinishStatus::kLength: return "length";
    case FinishStatus::kStopSequence: return "stop_sequence";
    case FinishStatus::kToolCalls: return "tool_calls";
    case FinishStatus::kContentFilter: return "content_filter";
  }
  return "stop";
}

namespace {

FinishStatus finish_status_from(const std::string& name) {
  for (FinishStatus s : {FinishStatus::kStop, FinishStatus::kLength, FinishStatus::kStopSequence, FinishStatus::kToolCalls,
                         FinishStatus::kContentFilter})
    if (name == finish_status_name(s)) return s;
  return FinishStatus::kStop;
}

json message_json(const Message& m) {
  json out = {{"role", m.role}, {"text", m.text}};
  if (!m.images.empty()) {
    out["images"] = json::array();
    for (const auto& i : m.images)
      out["images"].push_back(i.at == std::string::npos ? json(i.url) : json{{"url", i.url}, {"at", i.at}});
  }
  if (!m.tool_calls.empty()) {
    out["tool_calls"] = json::array();
    for (const auto& c : m.tool_calls) out["tool_calls"].push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
  }
  if (!m.tool_call_id.empty()) out["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty()) out["name"] = m.name;
  return out;
}

Message message_from(const json& j) {
  Message m;
  m.role = j.value("role", "");
  m.text = j.value("text", "");
  for (const auto& i : j.value("images", json::array()))
    m.images.push_back(i.is_string() ? ImageInput{i.get<std::string>()}
                                     : ImageInput{i.value("url", ""), i.value("at", std::string::npos)});
  for (const auto& c : j.value("tool_calls", json::array()))
    m.tool_calls.push_back({c.value("id", ""), c.value("name", ""), c.value("arguments", "")});
  m.tool_call_id = j.value("tool_call_id", "");
  m.name = j.value("name", "");
  return m;
}

}  // namespace

json to_json(const GenerationRequest& r) {
  json j = {{"model", r.model}, {"branch", r.branch}, {"messages", json::array()}};
  for (const auto& m : r.messages) j["messages"].push_back(message_json(m));
  if (r.prompt) j["prompt"] = *r.prompt;
  j["sampling"] = {{"temperature", r.sampling.temperature}, {"top_k", r.sampling.top_k}, {"top_p", r.sampling.top_p},
                   {"min_p", r.sampling.min_p}, {"seed", r.sampling.seed}};
  j["presence_penalty"] = r.presence_penalty;
  j["frequency_penalty"] = r.frequency_penalty;
  if (r.max_tokens) j["max_tokens"] = *r.max_tokens;
  j["max_tokens_is_ceiling"] = r.max_tokens_is_ceiling;
  j["n"] = r.n;
  j["top_logprobs"] = r.top_logprobs;
  j["stop"] = r.stop;
  j["format"] = static_cast<int>(r.format);
  if (!r.json_schema.is_null()) j["json_schema_text"] = r.json_schema.dump();  // as text: keeps property order
  j["tools"] = json::array();
  for (const auto& t : r.tools)
    j["tools"].push_back({{"name", t.name}, {"description", t.description}, {"parameters", json::parse(t.parameters.dump())}, {"strict", t.strict}});
  j["tool_choice"] = r.tool_choice;
  j["reasoning"] = static_cast<int>(r.reasoning);
  j["priority"] = static_cast<int>(r.priority);
  j["timeout_s"] = r.timeout.count();
  return j;
}

GenerationRequest generation_request_from_json(const json& j) {
  GenerationRequest r;
  r.model = j.at("model").get<std::string>();
  r.branch = j.value("branch", "latest");
  for (const auto& m : j.value("messages", json::array())) r.messages.push_back(message_from(m));
  if (j.contains("prompt")) r.prompt = j["prompt"].get<std::string>();
  const json& s = j.at("sampling");
  r.sampling.temperature = s.value("temperature", 0.f);
  r.sampling.top_k = s.value("top_k", 0);
  r.sampling.top_p = s.value("top_p", 1.f);
  r.sampling.min_p = s.value("min_p", 0.f);
  r.sampling.seed = s.value("seed", uint64_t{0});
  r.presence_penalty = j.value("presence_penalty", 0.f);
  r.frequency_penalty = j.value("frequency_penalty", 0.f);
  if (j.contains("max_tokens")) r.max_tokens = j["max_tokens"].get<int64_t>();
  r.max_tokens_is_ceiling = j.value("max_tokens_is_ceiling", false);
  r.n = j.value("n", 1);
  r.top_logprobs = j.value("top_logprobs", -1);
  r.stop = j.value("stop", std::vector<std::string>{});
  r.format = static_cast<OutputFormat>(j.value("format", 0));
  if (j.contains("json_schema_text")) r.json_schema = nlohmann::ordered_json::parse(j["json_schema_text"].get<std::string>());
  else if (j.contains("json_schema")) r.json_schema = nlohmann::ordered_json::parse(j["json_schema"].dump());
  for (const auto& t : j.value("tools", json::array()))
    r.tools.push_back({t.value("name", ""), t.value("description", ""), nlohmann::ordered_json::parse(t.at("parameters").dump()),
                       t.value("strict", false)});
  r.tool_choice = j.value("tool_choice", "");
  r.reasoning = static_cast<ReasoningMode>(j.value("reasoning", 0));
  r.priority = static_cast<Priority>(j.value("priority", 0));
  r.timeout = std::chrono::seconds(j.value("timeout_s", int64_t{600}));
  return r;
}

json to_json(const GenerationResult& r) {
  json choices = json::array();
  for (const auto& c : r.choices) {
    json lp = json::array();
    for (const auto& t : c.logprobs) {
      json top = json::array();
      for (const auto& [token, logprob] : t.top) top.push_back({{"token", token}, {"logprob", logprob}});
      lp.push_back({{"token", t.token}, {"logprob", t.logprob}, {"top", top}});
    }
    choices.push_back({{"text", c.text}, {"finish", finish_status_name(c.finish)}, {"completion_tokens", c.completion_tokens},
                       {"logprobs", lp}});
    if (!c.reasoning.empty()) choices.back()["reasoning"] = c.reasoning;
    for (const ToolCall& t : c.tool_calls)
      choices.back()["tool_calls"].push_back({{"id", t.id}, {"name", t.name}, {"arguments", t.arguments}});
  }
  return {{"choices", choices},
          {"usage", {{"prompt_tokens", r.usage.prompt_tokens}, {"completion_tokens", r.usage.completion_tokens},
                     {"reasoning_tokens", r.usage.reasoning_tokens}}},
          {"model_version", r.model_version}};
}

GenerationResult generation_result_from_json(const json& j) {
  GenerationResult r;
  for (const auto& c : j.at("choices")) {
    GenerationChoice choice;
    choice.text = c.at("text").get<std::string>();
    choice.reasoning = c.value("reasoning", "");
    for (const auto& t : c.value("tool_calls", json::array()))
      choice.tool_calls.push_back({t.value("id", ""), t.value("name", ""), t.value("arguments", "{}")});
    choice.finish = finish_status_from(c.value("finish", "stop"));
    choice.completion_tokens = c.value("completion_tokens", int64_t{0});
    for (const auto& t : c.value("logprobs", json::array())) {
      TokenLogprob lp{t.at("token").get<std::string>(), t.at("logprob").get<float>(), {}};
      for (const auto& a : t.value("top", json::array())) lp.top.emplace_back(a.at("token").get<std::string>(), a.at("logprob").get<float>());
      choice.logprobs.push_back(std::move(lp));
    }
    r.choices.push_back(std::move(choice));
  }
  const json& u = j.at("usage");
  r.usage.prompt_tokens = u.value("prompt_tokens", int64_t{0});
  r.usage.completion_tokens = u.value("completion_tokens", int64_t{0});
  r.usage.reasoning_tokens = u.value("reasoning_tokens", int64_t{0});
  r.model_version = j.value("model_version", "");
  return r;
}

}  // namespace fm
