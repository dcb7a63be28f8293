#include "chat/chat_template.h"

namespace fm {

ChatTemplate::ChatTemplate(const std::string& source, std::string bos_token, std::string eos_token)
    : source_(source), template_(source), bos_token_(std::move(bos_token)), eos_token_(std::move(eos_token)) {}

std::string ChatTemplate::render(const ChatRequest& request, uint64_t max_steps) const {
  using jinja::Value;
  jinja::ValueDict vars;
  vars.set(Value("bos_token"), Value(bos_token_));
  vars.set(Value("eos_token"), Value(eos_token_));
  for (auto it = request.kwargs.begin(); it != request.kwargs.end(); ++it) vars.set(Value(it.key()), Value::from_json(it.value()));
  vars.set(Value("messages"), Value::from_json(request.messages));
  vars.set(Value("tools"), request.tools.is_null() ? Value::none() : Value::from_json(request.tools));
  vars.set(Value("documents"), Value::none());
  vars.set(Value("add_generation_prompt"), Value(request.add_generation_prompt));
  return template_.render(vars, max_steps);
}

}  // namespace fm
