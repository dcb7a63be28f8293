#include "service/tool_calls.h"

#include <algorithm>

#include "service/service_error.h"
#include "store/random_id.h"

namespace fm {

namespace {

using ojson = nlohmann::ordered_json;

constexpr std::string_view kHermesOpen = "<tool_call>", kHermesClose = "</tool_call>";
constexpr std::string_view kMistralMark = "[TOOL_CALLS]";
constexpr std::string_view kFireFunctionMark = "functools";  // followed by the JSON array of calls
constexpr std::string_view kFunctionOpen = "<function=", kFunctionClose = "</function>";

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// {"name": ..., "<args_key>": {...}} as a call; false when it is not one.
bool call_from(const ojson& j, const char* args_key, std::vector<ToolCall>& out) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
  ojson args = j.contains(args_key) ? j[args_key] : j.value("arguments", ojson::object());
  if (args.is_string()) args = ojson::parse(args.get<std::string>(), nullptr, false);
  if (!args.is_object()) return false;
  out.push_back({random_id("call_", 24), j["name"].get<std::string>(), args.dump()});
  return true;
}

}  // namespace

ToolSyntax tool_syntax_of(const std::string& source) {
  if (source.find(kHermesOpen) != std::string::npos) return ToolSyntax::kHermes;
  if (source.find(kMistralMark) != std::string::npos) return ToolSyntax::kMistral;
  if (source.find("functools[") != std::string::npos) return ToolSyntax::kFireFunction;
  if (source.find(kFunctionOpen) != std::string::npos) return ToolSyntax::kFunctionary;
  // Llama 3.1-3.3: tools given to the model as JSON, calls answered as {"name": ..., "parameters": ...}.
  if (source.find("<|start_header_id|>") != std::string::npos && source.find("\"parameters\"") != std::string::npos)
    return ToolSyntax::kLlama3;
  return ToolSyntax::kNone;
}

const char* tool_syntax_name(ToolSyntax syntax) {
  switch (syntax) {
    case ToolSyntax::kHermes: return "hermes";
    case ToolSyntax::kLlama3: return "llama3";
    case ToolSyntax::kMistral: return "mistral";
    case ToolSyntax::kFireFunction: return "firefunction";
    case ToolSyntax::kFunctionary: return "functionary";
    case ToolSyntax::kNone: break;
  }
  return "none";
}

ParsedToolOutput parse_tool_calls(ToolSyntax syntax, const std::string& text) {
  ParsedToolOutput out;
  out.content = text;
  switch (syntax) {
    case ToolSyntax::kHermes: {
      const size_t first = text.find(kHermesOpen);
      if (first == std::string::npos) return out;
      for (size_t pos = first; pos != std::string::npos; pos = text.find(kHermesOpen, pos)) {
        const size_t body = pos + kHermesOpen.size();
        size_t end = text.find(kHermesClose, body);
        const ojson j = ojson::parse(text.substr(body, end == std::string::npos ? std::string::npos : end - body), nullptr, false);
        if (!call_from(j, "arguments", out.calls)) return {text, {}};
        if (end == std::string::npos) break;
        pos = end + kHermesClose.size();
      }
      out.content = trim(std::string_view(text).substr(0, first));
      return out;
    }
    case ToolSyntax::kLlama3: {
      std::string t = trim(text);
      if (t.rfind("<|python_tag|>", 0) == 0) t = trim(std::string_view(t).substr(14));
      if (t.empty() || t[0] != '{') return out;
      const ojson j = ojson::parse(t, nullptr, false);
      if (!call_from(j, "parameters", out.calls)) return {text, {}};
      out.content.clear();
      return out;
    }
    case ToolSyntax::kMistral:
    case ToolSyntax::kFireFunction: {
      const std::string_view marker = syntax == ToolSyntax::kMistral ? kMistralMark : kFireFunctionMark;
      const size_t mark = text.find(marker);
      if (mark == std::string::npos) return out;
      const ojson j = ojson::parse(text.substr(mark + marker.size()), nullptr, false);
      if (!j.is_array() || j.empty()) return out;
      for (const auto& c : j)
        if (!call_from(c, "arguments", out.calls)) return {text, {}};
      out.content = trim(std::string_view(text).substr(0, mark));
      return out;
    }
    case ToolSyntax::kFunctionary: {
      const size_t first = text.find(kFunctionOpen);
      if (first == std::string::npos) return out;
      for (size_t pos = first; pos != std::string::npos; pos = text.find(kFunctionOpen, pos)) {
        const size_t name_at = pos + kFunctionOpen.size();
        const size_t name_end = text.find('>', name_at);
        if (name_end == std::string::npos) return {text, {}};
        const size_t end = text.find(kFunctionClose, name_end);
        const ojson args = ojson::parse(text.substr(name_end + 1, end == std::string::npos ? std::string::npos : end - name_end - 1),
                                        nullptr, false);
        if (!call_from({{"name", text.substr(name_at, name_end - name_at)}, {"arguments", args}}, "arguments", out.calls))
          return {text, {}};
        if (end == std::string::npos) break;
        pos = end + kFunctionClose.size();
      }
      out.content = trim(std::string_view(text).substr(0, first));
      return out;
    }
    case ToolSyntax::kNone: break;
  }
  return out;
}

size_t releasable_content(ToolSyntax syntax, std::string_view text) {
  std::string_view marker;
  if (syntax == ToolSyntax::kHermes) marker = kHermesOpen;
  else if (syntax == ToolSyntax::kMistral) marker = kMistralMark;
  else if (syntax == ToolSyntax::kFireFunction) marker = kFireFunctionMark;
  else if (syntax == ToolSyntax::kFunctionary) marker = kFunctionOpen;
  else if (syntax == ToolSyntax::kLlama3) {
    // A call is the whole answer: hold everything while it may still be one (it starts with '{' or the tag).
    const size_t b = text.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return 0;
    const std::string_view rest = text.substr(b);
    const std::string_view tag = "<|python_tag|>";
    if (rest[0] == '{' || tag.substr(0, std::min(rest.size(), tag.size())) == rest.substr(0, std::min(rest.size(), tag.size())))
      return 0;
    return text.size();
  } else {
    return text.size();
  }
  const size_t at = text.find(marker);
  if (at != std::string_view::npos) return at;
  // Hold back a suffix that may begin the marker.
  for (size_t n = std::min(text.size(), marker.size() - 1); n > 0; --n)
    if (text.substr(text.size() - n) == marker.substr(0, n)) return text.size() - n;
  return text.size();
}

namespace {

// Functionary's call of one tool: its name is text before the arguments object, which is the parameters' schema.
ForcedCall functionary_call(const std::vector<ToolSpec>& tools, const std::string& name) {
  std::vector<const ToolSpec*> candidates;
  for (const ToolSpec& t : tools)
    if (name.empty() || t.name == name) candidates.push_back(&t);
  if (candidates.size() != 1)
    throw invalid_argument("tool_choice \"required\" with several tools cannot be enforced for this model's tool-call "
                           "syntax (functionary writes the name outside the arguments): name the tool", "unsupported_feature");
  ForcedCall f;
  f.schema = candidates[0]->parameters.is_object() ? candidates[0]->parameters : ojson{{"type", "object"}};
  f.prefix = std::string(kFunctionOpen) + candidates[0]->name + ">";
  f.suffix = std::string(kFunctionClose);
  return f;
}

}  // namespace

ForcedCall forced_call(ToolSyntax syntax, const std::vector<ToolSpec>& tools, const std::string& name) {
  if (syntax == ToolSyntax::kFunctionary) return functionary_call(tools, name);
  const char* args_key = syntax == ToolSyntax::kLlama3 ? "parameters" : "arguments";
  ojson alternatives = ojson::array();
  for (const ToolSpec& t : tools) {
    if (!name.empty() && t.name != name) continue;
    ojson params = t.parameters.is_object() ? t.parameters : ojson{{"type", "object"}};
    alternatives.push_back({{"type", "object"},
                            {"properties", {{"name", {{"const", t.name}}}, {args_key, params}}},
                            {"required", {"name", args_key}},
                            {"additionalProperties", false}});
  }
  ForcedCall f;
  f.schema = alternatives.size() == 1 ? alternatives[0] : ojson{{"anyOf", alternatives}};
  if (syntax == ToolSyntax::kHermes) {
    f.prefix = std::string(kHermesOpen) + "\n";
    f.suffix.assign(1, '\n');
    f.suffix.append(kHermesClose);
  } else if (syntax == ToolSyntax::kMistral || syntax == ToolSyntax::kFireFunction) {
    f.prefix = std::string(syntax == ToolSyntax::kMistral ? kMistralMark : kFireFunctionMark) + "[";
    f.suffix = std::string(1, ']');
  }
  return f;
}

TriggeredCall triggered_call(ToolSyntax syntax, const std::vector<ToolSpec>& tools) {
  TriggeredCall t;
  if (syntax == ToolSyntax::kFunctionary) {
    // One tool: its call is constrained from the opening marker on. Several: calls are parsed, not constrained.
    if (tools.size() != 1) return t;
    t.trigger = std::string(kFunctionOpen);
    t.call = functionary_call(tools, "");
    t.call.prefix = tools[0].name + ">";
    return t;
  }
  t.call = forced_call(syntax, tools, "");
  if (syntax == ToolSyntax::kHermes) {
    t.trigger = std::string(kHermesOpen);
    t.call.prefix.assign(1, '\n');
  } else if (syntax == ToolSyntax::kMistral || syntax == ToolSyntax::kFireFunction) {
    t.trigger = std::string(syntax == ToolSyntax::kMistral ? kMistralMark : kFireFunctionMark);
    t.call.prefix.assign(1, '[');
  }
  return t;
}

}  // namespace fm
