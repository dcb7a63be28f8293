#pragma once
// Chat prompts from OpenAI-format conversations through a model's Jinja chat template, with the variables
// Hugging Face's apply_chat_template passes (messages, tools, documents, add_generation_prompt, special tokens
// and extra keyword arguments such as enable_thinking).
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "chat/template.h"

namespace fm {

// Ordered JSON: templates iterate object keys (tool parameter schemas) in the order the client sent them.
struct ChatRequest {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{"role", "content" (string or parts)}]
  nlohmann::ordered_json tools;                                       // null when none
  bool add_generation_prompt = false;
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();   // extra template variables
};

class ChatTemplate {
 public:
  // source: the template text; bos/eos: the tokenizer's special token strings (may be empty).
  ChatTemplate(const std::string& source, std::string bos_token, std::string eos_token);
  // Throws jinja::TemplateError (with the template line) when the template raises or misuses a value.
  std::string render(const ChatRequest& request, uint64_t max_steps = jinja::Template::kDefaultMaxSteps) const;
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  jinja::Template template_;
  std::string bos_token_, eos_token_;
};

}  // namespace fm
