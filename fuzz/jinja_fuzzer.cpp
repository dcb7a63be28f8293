// libFuzzer target: chat templates and their render inputs. Input: template source, then a line "----", then a
// JSON object {"messages": [...], "tools": [...], "kwargs": {...}} (optional). Parsing and rendering must end
// with the template or a TemplateError (any other exception escaping is a bug), within the render budget;
// crashes, hangs, leaks and UB are bugs (built with ASan/UBSan).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "api/json_input.h"
#include "chat/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t sep = input.find("\n----\n");
  const std::string source = input.substr(0, sep);
  std::unique_ptr<fm::ChatTemplate> tmpl;
  try {
    tmpl = std::make_unique<fm::ChatTemplate>(source, "<s>", "</s>");
  } catch (const fm::jinja::TemplateError&) {
    return 0;
  }
  fm::ChatRequest request;
  request.messages = {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi"}},
                      {{"role", "assistant"}, {"content", "Hello"}}, {{"role", "user"}, {"content", "Why?"}}};
  request.add_generation_prompt = true;
  if (sep != std::string::npos) {
    try {
      const fm::ojson context = fm::parse_json_body(input.substr(sep + 6), 64);  // as the API bounds request bodies
      if (context.contains("messages")) request.messages = context["messages"];
      if (context.contains("tools")) request.tools = context["tools"];
      if (context.contains("kwargs") && context["kwargs"].is_object()) request.kwargs = context["kwargs"];
    } catch (const fm::ApiError&) {
    }
  }
  try {
    tmpl->render(request, 200'000);  // a smaller budget than the server's, to keep each input fast
  } catch (const fm::jinja::TemplateError&) {
  }
  return 0;
}
