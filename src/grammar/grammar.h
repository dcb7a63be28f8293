#pragma once
// A context-free grammar over bytes, the form every output constraint compiles to (JSON Schema, JSON mode,
// regular expressions). Rules are alternatives of sequences; a sequence's elements consume one byte from a set,
// call a rule, repeat a rule between min and max times (a counter, so `maxLength: 100000` costs one element), or
// read a number within bounds. The Matcher runs it as a pushdown automaton over a set of stacks.
#include <array>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fm {

// A schema, pattern or grammar the engine refuses (unsupported keyword, too large, malformed): the API's 400.
class GrammarError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ByteSet {
  std::array<uint64_t, 4> bits{};
  bool has(uint8_t b) const { return (bits[b >> 6] >> (b & 63)) & 1; }
  void add(uint8_t b) { bits[b >> 6] |= uint64_t{1} << (b & 63); }
  void add_range(uint8_t lo, uint8_t hi) {
    for (int b = lo; b <= hi; ++b) add(static_cast<uint8_t>(b));
  }
  bool operator==(const ByteSet&) const = default;
};

// A number read byte by byte and checked against bounds while it is written (no exponent; at most
// kMaxNumberChars characters), so that only prefixes of in-range numbers are ever allowed.
struct NumberSpec {
  static constexpr int kMaxNumberChars = 24;
  bool integer = false;
  bool has_min = false, has_max = false;
  bool exclusive_min = false, exclusive_max = false;
  double min = 0, max = 0;
};

enum class ElementKind : uint8_t {
  kEnd,     // end of a sequence: return to the caller
  kBytes,   // one byte from byte_sets[arg]
  kRule,    // rule arg, once
  kRepeat,  // rule arg, between min and max times
  kNumber,  // a number within numbers[arg]
};

struct Element {
  static constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();
  ElementKind kind = ElementKind::kEnd;
  uint32_t arg = 0;
  uint32_t min = 1, max = 1;  // kRepeat
};

class Grammar {
 public:
  // Limits that keep a hostile schema from costing unbounded time or memory: exceeding one is a GrammarError.
  static constexpr size_t kMaxElements = 1'000'000;
  static constexpr size_t kMaxRules = 200'000;

  using RuleId = uint32_t;

  // Adds an empty rule and returns its id; give it alternatives with add_alternative (possibly later, so rules can
  // refer to each other recursively).
  RuleId new_rule(std::string name);
  void add_alternative(RuleId rule, const std::vector<Element>& sequence);
  uint32_t byte_set(const ByteSet& set);  // interned
  uint32_t number(const NumberSpec& spec);
  void set_root(RuleId rule) { root_ = rule; }

  // Element builders.
  static Element bytes_elem(uint32_t set) { return {ElementKind::kBytes, set, 1, 1}; }
  static Element rule_elem(RuleId r) { return {ElementKind::kRule, r, 1, 1}; }
  static Element repeat_elem(RuleId r, uint32_t min, uint32_t max) { return {ElementKind::kRepeat, r, min, max}; }
  static Element number_elem(uint32_t n) { return {ElementKind::kNumber, n, 1, 1}; }
  // Appends the elements matching exactly `text`.
  void append_literal(std::vector<Element>& seq, std::string_view text);
  RuleId literal_rule(std::string_view text);
  // A rule matching any one of `seqs`.
  RuleId choice(std::string name, const std::vector<std::vector<Element>>& seqs);

  // Checks the grammar can run: every rule has an alternative, no repeated rule matches the empty string (its
  // counter would loop), no rule reaches itself without reading a byte (left recursion). Throws GrammarError.
  void finalize();

  // Run-time view: sequences are stored flat, each ending with a kEnd element.
  RuleId root() const { return root_; }
  const Element& element(uint32_t pos) const { return elements_[pos]; }
  // Start positions of a rule's alternatives.
  const std::vector<uint32_t>& alternatives(RuleId r) const { return rules_[r].starts; }
  const ByteSet& bytes(uint32_t id) const { return byte_sets_[id]; }
  const NumberSpec& number_spec(uint32_t id) const { return numbers_[id]; }
  const std::string& rule_name(RuleId r) const { return rules_[r].name; }
  size_t rule_count() const { return rules_.size(); }
  size_t element_count() const { return elements_.size(); }
  bool nullable(RuleId r) const { return rules_[r].nullable; }
  // Bytes no element tells apart share a class (digits and number punctuation are always classes of their own),
  // so an automaton over the grammar needs one transition per class, not per byte.
  uint8_t byte_class(uint8_t b) const { return byte_class_[b]; }
  int byte_class_count() const { return byte_class_count_; }

  // GBNF-like text, for debugging and tests.
  std::string to_string() const;

 private:
  struct Rule {
    std::string name;
    std::vector<uint32_t> starts;
    bool nullable = false;
  };
  void compute_nullable();
  void check_left_recursion() const;
  void compute_byte_classes();
  std::vector<Rule> rules_;
  std::vector<Element> elements_;
  std::vector<ByteSet> byte_sets_;
  std::vector<NumberSpec> numbers_;
  RuleId root_ = 0;
  std::array<uint8_t, 256> byte_class_{};
  int byte_class_count_ = 1;
};

// Whether `prefix` can still grow into a number satisfying `spec` (viable), and whether it already is one (done).
struct NumberPrefixState {
  bool viable = false;
  bool done = false;
};
NumberPrefixState check_number_prefix(const NumberSpec& spec, std::string_view prefix);

// Code-point ranges [lo, hi] (inclusive) as alternatives of UTF-8 byte-range sequences; surrogates are excluded.
std::vector<std::vector<std::pair<uint8_t, uint8_t>>> utf8_sequences(uint32_t lo, uint32_t hi);

}  // namespace fm
