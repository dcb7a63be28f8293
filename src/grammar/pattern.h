#pragma once
// JSON Schema `pattern` (ECMA-262 syntax) compiled to a grammar rule over the JSON-encoded characters of a string:
// literals and escapes, classes (ranges, negation, \d \w \s and their negations), '.', groups (capturing,
// non-capturing, named), alternation, greedy and lazy quantifiers. A pattern matches anywhere in the string unless
// anchored (^ at the start, $ at the end of a top-level alternative). Look-around, back-references, \b and flags
// are refused with a GrammarError naming them.
#include <string_view>

#include "grammar/grammar.h"

namespace fm {

// The rule matches the string's content (between the quotes).
Grammar::RuleId compile_pattern(Grammar& g, std::string_view pattern);

}  // namespace fm
