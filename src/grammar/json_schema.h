#pragma once
// JSON Schema (draft 4 to 2020-12 keywords that constrain generation) compiled to a Grammar whose language is a
// subset of the documents the schema accepts, written compactly or indented (the value first, at most one line
// break after it):
//   type (and type arrays, nullable), properties / required / additionalProperties (properties in schema order),
//   minProperties / maxProperties, items / prefixItems / additionalItems / minItems / maxItems, enum / const,
//   anyOf, oneOf (when its alternatives provably exclude each other), allOf (merged), $ref / $defs / definitions
//   (recursion included), minLength / maxLength, pattern, format (date, time, date-time, uuid, email, ipv4),
//   minimum / maximum / exclusiveMinimum / exclusiveMaximum.
// Any other assertion keyword is a GrammarError naming it and its path; annotations (title, description, ...)
// are ignored. Sizes are bounded so a hostile schema fails fast.
#include <memory>
#include <string>
#include <nlohmann/json.hpp>

#include "grammar/grammar.h"

namespace fm {

// Throws GrammarError. `prefix` and `suffix`: literal text around the value (a tool call's markers).
std::shared_ptr<const Grammar> compile_json_schema(const nlohmann::ordered_json& schema, const std::string& prefix = "",
                                                   const std::string& suffix = "");
// Any JSON object (JSON mode).
std::shared_ptr<const Grammar> json_object_grammar();

}  // namespace fm
