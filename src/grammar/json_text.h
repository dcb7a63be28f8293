#pragma once
// Grammar pieces for JSON text shared by the schema compiler and the pattern compiler: characters of a JSON
// string as they are written (escaped where JSON requires it), sets of code points, whitespace.
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "grammar/grammar.h"

namespace fm {

// Sorted, disjoint, inclusive code-point ranges.
class CodePointSet {
 public:
  void add(uint32_t lo, uint32_t hi);
  void add(const CodePointSet& other);
  CodePointSet complement() const;  // within [0, 0x10FFFF]
  const std::vector<std::pair<uint32_t, uint32_t>>& ranges() const { return ranges_; }
  bool empty() const { return ranges_.empty(); }

 private:
  std::vector<std::pair<uint32_t, uint32_t>> ranges_;
};

// A rule matching one character of `set` as it appears inside a JSON string: `"` as \", `\` as \\, control
// characters as \b \f \n \r \t or \u00XX, everything else as itself in UTF-8.
Grammar::RuleId encoded_char_rule(Grammar& g, const CodePointSet& set, std::string name);

// One character of any JSON string, escapes (\uXXXX included) allowed.
Grammar::RuleId any_string_char_rule(Grammar& g);

// Whitespace between JSON tokens: nothing, one space, or a line break and an indentation of at most `max_indent`
// spaces or tabs, so both the compact and the indented layouts are accepted but endless whitespace is not.
Grammar::RuleId whitespace_rule(Grammar& g, uint32_t max_indent);

}  // namespace fm
