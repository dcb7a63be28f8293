#pragma once
// Workflow templates: jq programs inside `\(...)`. A string that is exactly one `\(...)` (after trimming
// whitespace) yields that program's JSON value; a string mixing text and `\(...)` yields the text with each value
// interpolated (strings as they are, anything else as compact JSON); a string without `\(` is literal. Objects and
// arrays are templated value by value. jq is Debian's libjq 1.6; the jq 1.7 path syntax `.a.[0]` / `.a.["k"]` is
// accepted too (rewritten to `.a[0]` before compiling). Programs are compiled once and kept (up to 1,024).
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace fm::workflow {

// Evaluates in this process, with no time limit: what the jq helper runs. {"v": value} or {"e": message}.
nlohmann::ordered_json evaluate_here(const std::string& program, const nlohmann::ordered_json& packed);

using json = nlohmann::ordered_json;

// A program that does not compile or fails at run time; `what()` says which and why.
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The values the programs see as `$global` and `$counter` ({"global": state, "counter": 3}; absent ones are null).
using TemplateVars = json;

// Runs `program` on `input` in a jq helper process; its first result (null when it yields none). Throws TemplateError,
// also when the program runs longer than jq_time_limit_ms() (jq_worker.h).
json jq_eval(const std::string& program, const json& input, const TemplateVars& vars = json::object());

// True when `text` holds a `\(` (is a template rather than a literal).
bool is_template(const std::string& text);

// Evaluates the templates in `value` against `input` as described above. Throws TemplateError.
json render(const json& value, const json& input, const TemplateVars& vars = json::object());

// The jq 1.7 path forms `.a.[0]` and `.a.["k"]` written as jq 1.6 reads them; string literals are left alone.
std::string jq17_compat(const std::string& program);

// The first syntax error in the `\(...)` parts of `text` (unbalanced parentheses, unterminated strings), or "".
// Programs are compiled too when `compile` is set (a document's templates are checked when it is created).
std::string check_template(const std::string& text, bool compile = true);

}  // namespace fm::workflow
