#pragma once
// A parsed Jinja template, rendered with the semantics of Python's jinja2 as Hugging Face configures it for chat
// templates (sandboxed, trim_blocks, lstrip_blocks, loop controls, tojson without HTML escaping,
// raise_exception, strftime_now).
#include <cstdint>
#include <string>

#include "chat/template_ast.h"
#include "chat/value.h"

namespace fm::jinja {

class Template {
 public:
  explicit Template(const std::string& source);  // throws TemplateError naming the line
  // Renders with the given top-level variables; throws TemplateError (raise_exception, type errors, ...).
  // max_steps bounds the work (evaluation steps plus copied elements); real chat templates use a tiny fraction.
  std::string render(const ValueDict& variables, uint64_t max_steps = kDefaultMaxSteps) const;
  static constexpr uint64_t kDefaultMaxSteps = 20'000'000;

 private:
  Body body_;
};

}  // namespace fm::jinja
