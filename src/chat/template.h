#pragma once
// A parsed Jinja template, rendered with the semantics of Python's jinja2 as Hugging Face configures it for chat
// templates (sandboxed, trim_blocks, lstrip_blocks, loop controls, tojson without HTML escaping,
// raise_exception, strftime_now).
#include <string>

#include "chat/template_ast.h"
#include "chat/value.h"

namespace fm::jinja {

class Template {
 public:
  explicit Template(const std::string& source);  // throws TemplateError naming the line
  // Renders with the given top-level variables; throws TemplateError (raise_exception, type errors, ...).
  std::string render(const ValueDict& variables) const;

 private:
  Body body_;
};

}  // namespace fm::jinja
