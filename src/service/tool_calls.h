#pragma once
// Tool calls as chat models write them, per template family: Hermes / Qwen (<tool_call>{"name", "arguments"}
// </tool_call>), Llama 3.x (a bare JSON object {"name", "parameters"}), Mistral ([TOOL_CALLS][{"name",
// "arguments"}]), FireFunction v2 ( functools[{"name", "arguments"}]) and Functionary v3.1
// (<function=NAME>{arguments}</function>). The family is read off the chat template; the model's text is parsed into calls after generation,
// content that may be the start of a call is held back while streaming, and a call the request requires is forced
// with a JSON schema framed by the family's markers.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "service/generation.h"

namespace fm {

enum class ToolSyntax { kNone, kHermes, kLlama3, kMistral, kFireFunction, kFunctionary };

ToolSyntax tool_syntax_of(const std::string& template_source);
const char* tool_syntax_name(ToolSyntax syntax);

struct ParsedToolOutput {
  std::string content;          // text outside the calls
  std::vector<ToolCall> calls;  // empty when the text holds no well-formed call
};
ParsedToolOutput parse_tool_calls(ToolSyntax syntax, const std::string& text);

// How much of `text` (the answer so far) is surely content, not the start of a tool call.
size_t releasable_content(ToolSyntax syntax, std::string_view text);

// A call to one of `tools` (only `name` when not empty) as the family writes it: a schema and the text around it.
// Functionary writes the name outside the JSON, so a call there can be forced only when it names one tool (or there
// is one); otherwise throws ServiceError (invalid argument).
struct ForcedCall {
  nlohmann::ordered_json schema;
  std::string prefix, suffix;
};
ForcedCall forced_call(ToolSyntax syntax, const std::vector<ToolSpec>& tools, const std::string& name);

// With tool_choice auto: the marker that opens a call (empty when the family has none) and the call after it, so
// that a call the model starts is constrained to be well formed.
struct TriggeredCall {
  std::string trigger;
  ForcedCall call;  // prefix/suffix: the text between the trigger and the arguments object, and after it
};
TriggeredCall triggered_call(ToolSyntax syntax, const std::vector<ToolSpec>& tools);

}  // namespace fm
