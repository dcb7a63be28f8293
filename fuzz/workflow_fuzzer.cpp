// libFuzzer target: YaWL documents (YAML or JSON text) through the reader and the validator, which also compiles
// every template's jq programs. Parsing must end with a document or a DocumentError; any other exception escaping,
// a crash, a leak or UB is a bug (built with ASan/UBSan). Templates are not run here: a jq program may loop on
// purpose (`range(1e9)`), which is a property of jq, not of the reader.
#include <cstddef>
#include <cstdint>
#include <string>

#include "workflow/jq_template.h"
#include "workflow/yawl_document.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const fm::workflow::json doc = fm::workflow::parse_document(text);
    (void)fm::workflow::step_type(doc["steps"].begin().value());
  } catch (const fm::workflow::DocumentError&) {
  }
  // The template splitter and the jq 1.7 path rewriting on the raw text.
  (void)fm::workflow::check_template(text, /*compile=*/false);
  (void)fm::workflow::jq17_compat(text);
  return 0;
}
