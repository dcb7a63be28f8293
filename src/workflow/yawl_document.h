#pragma once
// YaWL documents (`yawl: "0.1"`, `start`, `steps`, `defaultRetryPolicy`), read from YAML or JSON and validated
// before anything runs: every problem is reported with its path in the document
// (`steps.summarize.foundationModelsCall.generate.maxTokens: required`).
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace fm::workflow {

using json = nlohmann::ordered_json;

// Every problem found, one "path: what" line each.
class DocumentError : public std::invalid_argument {
 public:
  explicit DocumentError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// The step types fmserve runs; a step has exactly one of these keys.
inline constexpr const char* kStepTypes[] = {"foundationModelsCall", "httpCall", "switch", "foreach", "parallel",
                                             "while", "wait", "noOp", "success", "fail"};

// The document as JSON (YAML read with YAML 1.2 core scalars: unquoted true/false/null/numbers are typed).
// Throws DocumentError when the text is not YAML or the document is not valid.
json parse_document(const std::string& text);
// The problems of an already parsed document (empty when it is valid).
std::vector<std::string> validate_document(const json& doc);

// The single step-type key of a (valid) step.
std::string step_type(const json& step);
// Milliseconds of a duration written as a number of seconds or "500ms", "1.5s", "15m", "2h", "1d";
// throws std::invalid_argument.
int64_t parse_duration_ms(const json& value);

}  // namespace fm::workflow
