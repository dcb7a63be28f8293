#pragma once
// Schema algebra the compiler needs before it builds rules: allOf merged into one schema, and whether two
// schemas can accept the same value (oneOf is compiled as anyOf only when no two alternatives overlap).
#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace fm {

using Schema = nlohmann::ordered_json;

// The JSON types a schema can accept: "object", "array", "string", "integer", "number", "boolean", "null"
// ("number" includes integers).
std::set<std::string> schema_types(const Schema& s);

// One schema accepting what both accept, or a GrammarError naming the keyword whose merge is not supported.
Schema merge_schemas(const Schema& a, const Schema& b, const std::string& path);

// True when no value can satisfy both (checked by types, const/enum values and required const properties);
// false when unsure.
bool schemas_disjoint(const Schema& a, const Schema& b);

}  // namespace fm
