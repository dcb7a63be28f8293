#include "grammar/json_schema.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>
#include <map>
#include <optional>
#include <set>

#include "grammar/json_text.h"
#include "grammar/pattern.h"
#include "grammar/schema_merge.h"

namespace fm {

namespace {

using RuleId = Grammar::RuleId;
constexpr int kMaxSchemaDepth = 64;
constexpr uint32_t kMaxStringLength = 100000;
constexpr uint32_t kMaxItems = 10000;
constexpr uint32_t kMaxPropertiesCount = 1000;
constexpr size_t kMaxEnumValues = 10000;

const std::set<std::string> kAssertions = {
    "type", "properties", "required", "additionalProperties", "items", "prefixItems", "additionalItems",
    "minItems", "maxItems", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs", "definitions",
    "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minProperties", "maxProperties", "nullable"};
const std::set<std::string> kAnnotations = {
    "$schema", "$id", "id", "$comment", "$anchor", "title", "description", "default", "examples", "example",
    "deprecated", "readOnly", "writeOnly", "discriminator", "xml", "externalDocs", "$vocabulary", "strict",
    "contentEncoding", "contentMediaType"};

// Formats as patterns whose language is a subset of what ajv-formats accepts ("full" mode).
const std::map<std::string, std::string> kFormats = {
    {"date",
     "^(?:\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))"
     "|(?:\\d\\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)$"},
    {"time", "^(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,9})?(?:Z|z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)$"},
    {"date-time",
     "^(?:\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))"
     "|(?:\\d\\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)"
     "T(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,9})?(?:Z|z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)$"},
    {"uuid", "^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"},
    {"email",
     "^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,64}(?:\\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,64}){0,8}@"
     "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.){1,8}[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"},
    {"ipv4", "^(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)$"},
};

class SchemaCompiler {
 public:
  SchemaCompiler(Grammar& g, const Schema& root) : g_(g), root_(root) {}

  RuleId document(const Schema& schema, const std::string& prefix, const std::string& suffix) {
    const RuleId value_rule = value(schema, "#", 0);
    const RuleId doc = g_.new_rule("document");
    std::vector<Element> seq = lit(prefix);
    seq.push_back(Grammar::rule_elem(value_rule));
    g_.append_literal(seq, suffix);
    seq.push_back(Grammar::rule_elem(end_of_document()));
    g_.add_alternative(doc, seq);
    return doc;
  }

  RuleId any_object_document() {
    const RuleId doc = g_.new_rule("document");
    g_.add_alternative(doc, {Grammar::rule_elem(any_object()), Grammar::rule_elem(end_of_document())});
    return doc;
  }

  // The document starts with its value and may end with one line break.
  RuleId end_of_document() { return g_.choice("end", {{}, lit("\n")}); }

 private:
  [[noreturn]] static void fail(const std::string& path, const std::string& what) { throw GrammarError(path + ": " + what); }

  std::vector<Element> lit(std::string_view text) {
    std::vector<Element> seq;
    g_.append_literal(seq, text);
    return seq;
  }
  // Whitespace with indentation bounded by how deep the value being built can sit: four columns per level (a tab
  // counts one), so a model cannot spend its tokens on endless indentation. Shared rules (recursive references,
  // any-value) may sit at any depth and allow the most.
  Element ws() {
    const uint32_t indent = in_shared_ ? kMaxIndent : std::min<uint32_t>(kMaxIndent, 4 * (static_cast<uint32_t>(nesting_) + 1));
    auto it = ws_rules_.find(indent);
    if (it == ws_rules_.end()) it = ws_rules_.emplace(indent, whitespace_rule(g_, indent)).first;
    return Grammar::rule_elem(it->second);
  }
  // Sets the nesting for the members of the object or array being built, and restores it after.
  struct Nesting {
    SchemaCompiler& c;
    int saved;
    Nesting(SchemaCompiler& compiler, int depth) : c(compiler), saved(compiler.nesting_) { c.nesting_ = depth; }
    ~Nesting() { c.nesting_ = saved; }
  };
  struct Shared {
    SchemaCompiler& c;
    bool saved;
    explicit Shared(SchemaCompiler& compiler) : c(compiler), saved(compiler.in_shared_) { c.in_shared_ = true; }
    ~Shared() { c.in_shared_ = saved; }
  };

  static uint32_t count(const Schema& s, const char* key, uint32_t limit, const std::string& path, uint32_t dflt) {
    if (!s.contains(key)) return dflt;
    const auto& v = s[key];
    if (!v.is_number() || v.get<double>() < 0 || std::floor(v.get<double>()) != v.get<double>())
      fail(path, std::string(key) + " must be a non-negative integer");
    if (v.get<double>() > limit)
      fail(path, std::string(key) + " " + v.dump() + " is above the limit fmserve enforces (" + std::to_string(limit) + ")");
    return static_cast<uint32_t>(v.get<double>());
  }

  const Schema& resolve(const std::string& ref, const std::string& path) {
    if (ref.empty() || ref[0] != '#') fail(path, "only local $ref (\"#/...\") is supported, not \"" + ref + "\"");
    try {
      std::string pointer = ref.substr(1);
      return root_.at(Schema::json_pointer(pointer));
    } catch (const std::exception&) {
      fail(path, "$ref \"" + ref + "\" points to nothing");
    }
  }

  RuleId value(const Schema& s, const std::string& path, int depth) {
    if (depth > kMaxSchemaDepth) fail(path, "the schema nests deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
    if (s.is_boolean()) {
      if (s.get<bool>()) return any_value();
      fail(path, "the schema false accepts nothing");
    }
    if (!s.is_object()) fail(path, "a schema must be an object or a boolean");
    for (const auto& [key, v] : s.items()) {
      if (kAssertions.count(key) || kAnnotations.count(key) || key.rfind("x-", 0) == 0) continue;
      fail(path, "the keyword '" + key + "' is not supported");
    }
    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) fail(path, "$ref must be a string");
      Schema rest = s;
      rest.erase("$ref");
      for (const char* k : {"$defs", "definitions", "title", "description", "$comment", "default", "examples", "$schema", "$id"})
        rest.erase(k);
      if (rest.empty()) return ref(s["$ref"].get<std::string>(), path, depth);
      const Schema& target = resolve(s["$ref"].get<std::string>(), path);
      return value(merge_schemas(rest, target, path), path, depth + 1);
    }
    if (s.contains("allOf")) {
      const auto& all = s["allOf"];
      if (!all.is_array() || all.empty()) fail(path, "allOf must be a non-empty array");
      Schema merged = s;
      merged.erase("allOf");
      for (size_t i = 0; i < all.size(); ++i) {
        Schema member = all[i];
        for (int hops = 0; member.is_object() && member.contains("$ref") && member.size() == 1; ++hops) {
          if (hops > 32) fail(path, "allOf: $ref chain too long");
          member = resolve(member["$ref"].get<std::string>(), path);
        }
        merged = merge_schemas(merged, member, path + "/allOf/" + std::to_string(i));
      }
      return value(merged, path, depth + 1);
    }
    for (const char* combinator : {"anyOf", "oneOf"}) {
      if (!s.contains(combinator)) continue;
      const auto& alts = s[combinator];
      if (!alts.is_array() || alts.empty()) fail(path, std::string(combinator) + " must be a non-empty array");
      Schema rest = s;
      rest.erase(combinator);
      std::vector<Schema> merged;
      for (size_t i = 0; i < alts.size(); ++i) {
        Schema alt = alts[i];
        if (alt.is_object() && alt.contains("$ref") && alt.size() == 1 && !rest.empty() && rest.size() > 0) {
          bool only_annotations = true;
          for (const auto& [k, v] : rest.items()) only_annotations = only_annotations && kAnnotations.count(k) > 0;
          if (!only_annotations) alt = resolve(alt["$ref"].get<std::string>(), path);
        }
        merged.push_back(merge_schemas(rest, alt, path + "/" + combinator + "/" + std::to_string(i)));
      }
      if (std::string(combinator) == "oneOf") {
        for (size_t i = 0; i < merged.size(); ++i)
          for (size_t j = i + 1; j < merged.size(); ++j)
            if (!schemas_disjoint(merged[i], merged[j]))
              fail(path, "oneOf alternatives " + std::to_string(i) + " and " + std::to_string(j) +
                             " may both match a value (exactly-one is enforced only for alternatives that exclude "
                             "each other by type, const/enum or a required const property); use anyOf");
      }
      const RuleId rule = g_.new_rule(combinator);
      for (size_t i = 0; i < merged.size(); ++i)
        g_.add_alternative(rule, {Grammar::rule_elem(value(merged[i], path + "/" + combinator + "/" + std::to_string(i), depth + 1))});
      return rule;
    }
    if (s.contains("const")) return literals({s["const"]}, path);
    if (s.contains("enum")) {
      if (!s["enum"].is_array() || s["enum"].empty()) fail(path, "enum must be a non-empty array");
      if (s["enum"].size() > kMaxEnumValues)
        fail(path, "enum has " + std::to_string(s["enum"].size()) + " values; fmserve enforces at most " + std::to_string(kMaxEnumValues));
      return literals(s["enum"], path, schema_types(Schema{{"type", s.value("type", Schema())}}));
    }
    return typed(s, path, depth);
  }

  RuleId ref(const std::string& target, const std::string& path, int depth) {
    auto it = refs_.find(target);
    if (it != refs_.end()) return it->second;
    const RuleId rule = g_.new_rule("ref " + target);
    refs_[target] = rule;
    const Schema& schema = resolve(target, path);
    Shared shared(*this);
    g_.add_alternative(rule, {Grammar::rule_elem(value(schema, target, depth + 1))});
    return rule;
  }

  // The canonical (compact) JSON text of each value, as a byte trie so a long enum shares its prefixes.
  RuleId literals(const Schema& values, const std::string& path, const std::set<std::string>& types = {}) {
    std::vector<std::string> texts;
    for (const auto& v : values) {
      if (!types.empty() && !types.count(type_of_value(v))) continue;
      texts.push_back(v.dump());
    }
    if (texts.empty()) fail(path, "no enum value has the schema's type");
    std::sort(texts.begin(), texts.end());
    texts.erase(std::unique(texts.begin(), texts.end()), texts.end());
    return trie_rule(texts, 0, texts.size(), 0);
  }

  static std::string type_of_value(const Schema& v) {
    if (v.is_number_integer()) return "integer";
    if (v.is_number()) return "number";
    if (v.is_string()) return "string";
    if (v.is_boolean()) return "boolean";
    if (v.is_null()) return "null";
    return v.is_array() ? "array" : "object";
  }

  // Sorted texts[begin, end) all share their first `depth` bytes.
  RuleId trie_rule(const std::vector<std::string>& texts, size_t begin, size_t end, size_t depth) {
    const RuleId rule = g_.new_rule("enum");
    size_t i = begin;
    if (texts[i].size() == depth) {
      g_.add_alternative(rule, {});
      ++i;
    }
    while (i < end) {
      size_t j = i + 1;
      while (j < end && texts[j][depth] == texts[i][depth]) ++j;
      // Extend the shared run as far as every text in [i, j) agrees.
      size_t d = depth + 1;
      while (true) {
        bool same = texts[i].size() > d;
        for (size_t k = i + 1; k < j && same; ++k) same = texts[k].size() > d && texts[k][d] == texts[i][d];
        if (!same) break;
        ++d;
      }
      std::vector<Element> seq = lit(std::string_view(texts[i]).substr(depth, d - depth));
      const bool single_done = j == i + 1 && texts[i].size() == d;
      if (!single_done) seq.push_back(Grammar::rule_elem(trie_rule(texts, i, j, d)));
      g_.add_alternative(rule, seq);
      i = j;
    }
    return rule;
  }

  RuleId typed(const Schema& s, const std::string& path, int depth) {
    std::set<std::string> types;
    if (s.contains("type")) {
      const auto& t = s["type"];
      if (t.is_string()) types.insert(t.get<std::string>());
      else if (t.is_array())
        for (const auto& x : t) {
          if (!x.is_string()) fail(path, "type must be a string or an array of strings");
          types.insert(x.get<std::string>());
        }
      else fail(path, "type must be a string or an array of strings");
      if (types.empty()) fail(path, "type [] accepts nothing");
    } else {
      // No type: the keywords present say which kind of value is meant; none means any value.
      if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties") ||
          s.contains("minProperties") || s.contains("maxProperties"))
        types.insert("object");
      if (s.contains("items") || s.contains("prefixItems") || s.contains("minItems") || s.contains("maxItems"))
        types.insert("array");
      if (s.contains("minLength") || s.contains("maxLength") || s.contains("pattern") || s.contains("format"))
        types.insert("string");
      if (s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") || s.contains("exclusiveMaximum"))
        types.insert("number");
      if (types.empty()) return any_value();
    }
    if (s.contains("nullable") && !s["nullable"].is_boolean()) fail(path, "'nullable' must be a boolean");
    if (s.value("nullable", false)) types.insert("null");
    const RuleId rule = g_.new_rule("typed");
    for (const auto& t : types) {
      RuleId r;
      if (t == "null") r = g_.literal_rule("null");
      else if (t == "boolean") r = g_.choice("boolean", {lit("true"), lit("false")});
      else if (t == "string") r = string(s, path);
      else if (t == "integer") {
        if (types.count("number")) continue;
        r = number(s, path, true);
      } else if (t == "number") r = number(s, path, false);
      else if (t == "object") r = object(s, path, depth);
      else if (t == "array") r = array(s, path, depth);
      else fail(path, "unknown type '" + t + "'");
      g_.add_alternative(rule, {Grammar::rule_elem(r)});
    }
    return rule;
  }

  RuleId string(const Schema& s, const std::string& path) {
    const uint32_t min = count(s, "minLength", kMaxStringLength, path, 0);
    const uint32_t max = count(s, "maxLength", kMaxStringLength, path, Element::kUnbounded);
    if (min > max) fail(path, "minLength is above maxLength");
    const bool has_len = s.contains("minLength") || s.contains("maxLength");
    std::optional<RuleId> content;
    if (s.contains("format")) {
      if (!s["format"].is_string()) fail(path, "format must be a string");
      const std::string f = s["format"].get<std::string>();
      auto it = kFormats.find(f);
      if (it == kFormats.end()) fail(path, "format '" + f + "' is not supported (date, time, date-time, uuid, email, ipv4 are)");
      if (s.contains("pattern") || has_len) fail(path, "format together with pattern or minLength/maxLength is not supported");
      content = compile_pattern(g_, it->second);
    } else if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) fail(path, "pattern must be a string");
      if (has_len) fail(path, "pattern together with minLength/maxLength is not supported");
      content = compile_pattern(g_, s["pattern"].get<std::string>());
    }
    std::vector<Element> seq = lit("\"");
    if (content) seq.push_back(Grammar::rule_elem(*content));
    else seq.push_back(Grammar::repeat_elem(char_rule(), min, max));
    g_.append_literal(seq, "\"");
    const RuleId rule = g_.new_rule("string");
    g_.add_alternative(rule, seq);
    return rule;
  }

  static std::optional<double> bound(const Schema& s, const char* key, const std::string& path) {
    if (!s.contains(key)) return std::nullopt;
    const auto& v = s[key];
    if (v.is_boolean()) return std::nullopt;  // draft 4 exclusive flags
    if (!v.is_number() || !std::isfinite(v.get<double>())) fail(path, std::string(key) + " must be a number");
    return v.get<double>();
  }

  RuleId number(const Schema& s, const std::string& path, bool integer) {
    NumberSpec spec;
    spec.integer = integer;
    if (auto v = bound(s, "minimum", path)) spec.has_min = true, spec.min = *v;
    if (auto v = bound(s, "maximum", path)) spec.has_max = true, spec.max = *v;
    if (s.contains("exclusiveMinimum") && s["exclusiveMinimum"].is_boolean()) spec.exclusive_min = s["exclusiveMinimum"].get<bool>();
    else if (auto v = bound(s, "exclusiveMinimum", path)) {
      if (!spec.has_min || *v >= spec.min) spec.has_min = true, spec.min = *v, spec.exclusive_min = true;
    }
    if (s.contains("exclusiveMaximum") && s["exclusiveMaximum"].is_boolean()) spec.exclusive_max = s["exclusiveMaximum"].get<bool>();
    else if (auto v = bound(s, "exclusiveMaximum", path)) {
      if (!spec.has_max || *v <= spec.max) spec.has_max = true, spec.max = *v, spec.exclusive_max = true;
    }
    if (spec.has_min || spec.has_max) {
      if (!check_number_prefix(spec, "").viable) fail(path, "no number satisfies minimum/maximum");
      const RuleId rule = g_.new_rule(integer ? "bounded integer" : "bounded number");
      g_.add_alternative(rule, {Grammar::number_elem(g_.number(spec))});
      return rule;
    }
    return integer ? integer_rule() : number_rule();
  }

  RuleId object(const Schema& s, const std::string& path, int depth) {
    Nesting nesting(*this, depth);
    struct Prop {
      std::string key;
      RuleId value;
      bool required;
    };
    std::vector<Prop> props;
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) fail(path, "required must be an array");
      for (const auto& r : s["required"]) {
        if (!r.is_string()) fail(path, "required must list strings");
        required.insert(r.get<std::string>());
      }
    }
    const Schema additional = s.value("additionalProperties", Schema(true));
    if (s.contains("properties")) {
      if (!s["properties"].is_object()) fail(path, "properties must be an object");
      if (s["properties"].size() > kMaxPropertiesCount) fail(path, "more than " + std::to_string(kMaxPropertiesCount) + " properties");
      for (const auto& [name, ps] : s["properties"].items()) {
        const bool req = required.count(name) > 0;
        if (ps == false) {
          if (req) fail(path, "required property '" + name + "' has the schema false");
          continue;
        }
        props.push_back({Schema(name).dump(), value(ps, path + "/properties/" + name, depth + 1), req});
      }
    }
    std::set<std::string> declared;
    if (s.contains("properties"))
      for (const auto& [name, ps] : s["properties"].items()) declared.insert(name);
    for (const auto& name : required) {
      if (declared.count(name)) continue;
      if (additional == false) fail(path, "required property '" + name + "' is not allowed by additionalProperties false");
      props.push_back({Schema(name).dump(), value(additional, path + "/additionalProperties", depth + 1), true});
      declared.insert(name);
    }
    ObjectShape shape;
    shape.min = count(s, "minProperties", kMaxPropertiesCount, path, 0);
    shape.max = count(s, "maxProperties", kMaxPropertiesCount, path, Element::kUnbounded);
    if (shape.min > shape.max) fail(path, "minProperties is above maxProperties");
    shape.bounded = s.contains("minProperties") || s.contains("maxProperties");
    for (const auto& p : props) {
      std::vector<Element> member = lit(p.key);
      member.insert(member.end(), {ws()});
      g_.append_literal(member, ":");
      member.insert(member.end(), {ws(), Grammar::rule_elem(p.value)});
      shape.members.push_back(member);
      shape.required.push_back(p.required);
    }
    if (additional != false) {
      const RuleId extra = g_.new_rule("extra member");
      std::vector<Element> member = {Grammar::rule_elem(other_key(declared)), ws()};
      g_.append_literal(member, ":");
      member.insert(member.end(), {ws(), Grammar::rule_elem(value(additional, path + "/additionalProperties", depth + 1))});
      g_.add_alternative(extra, member);
      shape.extra = extra;
      std::vector<Element> comma = {ws()};
      g_.append_literal(comma, ",");
      comma.insert(comma.end(), {ws(), Grammar::rule_elem(extra)});
      shape.comma_extra = g_.choice("comma extra member", {comma});
    }
    const RuleId rule = g_.new_rule("object");
    const bool empty_ok = shape.min == 0 && std::none_of(shape.required.begin(), shape.required.end(), [](bool r) { return r; });
    if (empty_ok) {
      std::vector<Element> e = lit("{");
      e.push_back(ws());
      g_.append_literal(e, "}");
      g_.add_alternative(rule, e);
    }
    if (auto body = members_from(shape, 0, 0, true)) {
      std::vector<Element> e = lit("{");
      e.insert(e.end(), {ws(), Grammar::rule_elem(*body), ws()});
      g_.append_literal(e, "}");
      g_.add_alternative(rule, e);
    } else if (!empty_ok) {
      fail(path, "no object satisfies the schema");
    }
    return rule;
  }

  struct ObjectShape {
    std::vector<std::vector<Element>> members;
    std::vector<bool> required;
    std::optional<RuleId> extra, comma_extra;
    uint32_t min = 0, max = Element::kUnbounded;
    bool bounded = false;
    std::map<std::tuple<size_t, uint32_t, bool>, std::optional<RuleId>> memo;
  };

  // Members from declared property i on, with k members written so far (counted exactly only when
  // minProperties/maxProperties need it); `first` excludes the empty continuation (the caller handles "{}").
  std::optional<RuleId> members_from(ObjectShape& shape, size_t i, uint32_t k, bool first) {
    const uint32_t cap = shape.bounded ? (shape.max == Element::kUnbounded ? std::max<uint32_t>(shape.min, 1) : shape.max) : 1;
    k = std::min(k, cap);
    const auto key = std::make_tuple(i, k, first);
    if (auto it = shape.memo.find(key); it != shape.memo.end()) return it->second;
    std::vector<std::vector<Element>> alts;
    const size_t n = shape.members.size();
    const bool more_allowed = shape.max == Element::kUnbounded || k < shape.max;
    bool rest_optional = true;
    for (size_t j = i; j < n; ++j) {
      if (more_allowed) {
        if (auto next = members_from(shape, j + 1, k + 1, false)) {
          std::vector<Element> seq;
          if (k > 0) {
            seq.push_back(ws());
            g_.append_literal(seq, ",");
            seq.push_back(ws());
          }
          seq.insert(seq.end(), shape.members[j].begin(), shape.members[j].end());
          seq.push_back(Grammar::rule_elem(*next));
          alts.push_back(seq);
        }
      }
      if (shape.required[j]) {
        rest_optional = false;
        break;
      }
    }
    if (rest_optional) {
      const uint32_t need = shape.min > k ? shape.min - k : 0;
      if (shape.extra) {
        const uint32_t room = shape.max == Element::kUnbounded ? Element::kUnbounded : shape.max - k;
        if (k == 0 && room > 0) {
          const uint32_t more = room == Element::kUnbounded ? Element::kUnbounded : room - 1;
          alts.push_back({Grammar::rule_elem(*shape.extra),
                          Grammar::repeat_elem(*shape.comma_extra, need > 0 ? need - 1 : 0, more)});
          if (need == 0 && !first) alts.push_back({});
        } else if (k > 0) {
          alts.push_back({Grammar::repeat_elem(*shape.comma_extra, need, room)});
        }
      } else if (need == 0 && !first) {
        alts.push_back({});
      }
    }
    std::optional<RuleId> result;
    if (!alts.empty()) result = g_.choice("members", alts);
    shape.memo[key] = result;
    return result;
  }

  // A key (with its quotes) that is none of `declared`: printable ASCII only when some keys are declared.
  RuleId other_key(const std::set<std::string>& declared) {
    std::vector<std::string> names;
    for (const auto& d : declared) {
      const std::string enc = Schema(d).dump();
      names.push_back(enc.substr(1, enc.size() - 2));
    }
    std::vector<Element> seq = lit("\"");
    if (names.empty()) {
      seq.push_back(Grammar::repeat_elem(char_rule(), 0, Element::kUnbounded));
    } else {
      std::sort(names.begin(), names.end());
      seq.push_back(Grammar::rule_elem(not_in(names, 0, names.size(), 0)));
    }
    g_.append_literal(seq, "\"");
    return g_.choice("other key", {seq});
  }

  ByteSet plain_bytes() const {
    ByteSet s;
    s.add_range(0x20, 0x7E);
    s.bits[0x22 >> 6] &= ~(uint64_t{1} << (0x22 & 63));
    s.bits[0x5C >> 6] &= ~(uint64_t{1} << (0x5C & 63));
    return s;
  }

  // Plain-ASCII strings that are not among sorted names[begin, end), all sharing their first `depth` bytes.
  RuleId not_in(const std::vector<std::string>& names, size_t begin, size_t end, size_t depth) {
    if (!plain_) plain_ = g_.choice("plain char", {{Grammar::bytes_elem(g_.byte_set(plain_bytes()))}});
    const RuleId rule = g_.new_rule("not a declared key");
    size_t i = begin;
    if (names[i].size() == depth) ++i;  // this prefix is a declared name
    else g_.add_alternative(rule, {});
    ByteSet other = plain_bytes();
    for (size_t j = i; j < end;) {
      const auto b = static_cast<uint8_t>(names[j][depth]);
      size_t k = j + 1;
      while (k < end && static_cast<uint8_t>(names[k][depth]) == b) ++k;
      if (other.has(b)) {
        other.bits[b >> 6] &= ~(uint64_t{1} << (b & 63));
        g_.add_alternative(rule, {Grammar::bytes_elem(g_.byte_set(single(b))), Grammar::rule_elem(not_in(names, j, k, depth + 1))});
      }
      j = k;
    }
    if (other != ByteSet{})
      g_.add_alternative(rule, {Grammar::bytes_elem(g_.byte_set(other)), Grammar::repeat_elem(*plain_, 0, Element::kUnbounded)});
    return rule;
  }

  static ByteSet single(uint8_t b) {
    ByteSet s;
    s.add(b);
    return s;
  }

  RuleId array(const Schema& s, const std::string& path, int depth) {
    Nesting nesting(*this, depth);
    std::vector<RuleId> prefix;
    std::optional<RuleId> rest;
    bool rest_allowed = true;
    auto items_rule = [&](const Schema& v, const std::string& p) -> std::optional<RuleId> {
      if (v == false) return std::nullopt;
      return value(v, p, depth + 1);
    };
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) fail(path, "prefixItems must be an array");
      for (size_t i = 0; i < s["prefixItems"].size(); ++i)
        prefix.push_back(value(s["prefixItems"][i], path + "/prefixItems/" + std::to_string(i), depth + 1));
      if (s.contains("items")) rest = items_rule(s["items"], path + "/items"), rest_allowed = rest.has_value();
      else rest = any_value();
    } else if (s.contains("items") && s["items"].is_array()) {
      for (size_t i = 0; i < s["items"].size(); ++i)
        prefix.push_back(value(s["items"][i], path + "/items/" + std::to_string(i), depth + 1));
      if (s.contains("additionalItems")) rest = items_rule(s["additionalItems"], path + "/additionalItems"), rest_allowed = rest.has_value();
      else rest = any_value();
    } else if (s.contains("items")) {
      rest = items_rule(s["items"], path + "/items");
      rest_allowed = rest.has_value();
    } else {
      rest = any_value();
    }
    const uint32_t min = count(s, "minItems", kMaxItems, path, 0);
    uint32_t max = count(s, "maxItems", kMaxItems, path, Element::kUnbounded);
    if (!rest_allowed) max = std::min<uint32_t>(max, static_cast<uint32_t>(prefix.size()));
    if (min > max) fail(path, "no array satisfies minItems/maxItems and items");
    const RuleId rule = g_.new_rule("array");
    if (min == 0) {
      std::vector<Element> e = lit("[");
      e.push_back(ws());
      g_.append_literal(e, "]");
      g_.add_alternative(rule, e);
    }
    if (max == 0) return rule;
    std::optional<RuleId> comma_rest;
    if (rest) {
      std::vector<Element> c = {ws()};
      g_.append_literal(c, ",");
      c.insert(c.end(), {ws(), Grammar::rule_elem(*rest)});
      comma_rest = g_.choice("comma item", {c});
    }
    // tail(i): what may follow once i items are written (i >= 1).
    std::function<std::optional<RuleId>(uint32_t)> tail = [&](uint32_t i) -> std::optional<RuleId> {
      if (i >= prefix.size()) {
        const uint32_t need = min > i ? min - i : 0;
        const uint32_t room = max == Element::kUnbounded ? Element::kUnbounded : max - i;
        if (!comma_rest) return need == 0 ? std::optional<RuleId>(g_.choice("end", {{}})) : std::nullopt;
        return g_.choice("items", {{Grammar::repeat_elem(*comma_rest, need, room)}});
      }
      std::vector<std::vector<Element>> alts;
      if (i >= min) alts.push_back({});
      if (i < max) {
        if (auto next = tail(i + 1)) {
          std::vector<Element> seq = {ws()};
          g_.append_literal(seq, ",");
          seq.insert(seq.end(), {ws(), Grammar::rule_elem(prefix[i]), Grammar::rule_elem(*next)});
          alts.push_back(seq);
        }
      }
      if (alts.empty()) return std::nullopt;
      return g_.choice("items", alts);
    };
    const RuleId first = prefix.empty() ? *rest : prefix[0];
    if (auto t = tail(1)) {
      std::vector<Element> e = lit("[");
      e.insert(e.end(), {ws(), Grammar::rule_elem(first), Grammar::rule_elem(*t), ws()});
      g_.append_literal(e, "]");
      g_.add_alternative(rule, e);
    }
    return rule;
  }

  RuleId char_rule() {
    if (!char_) char_ = any_string_char_rule(g_);
    return *char_;
  }

  RuleId digits_rule() {
    if (!digit_) {
      ByteSet d;
      d.add_range('0', '9');
      digit_ = g_.choice("digit", {{Grammar::bytes_elem(g_.byte_set(d))}});
    }
    return *digit_;
  }

  RuleId integer_rule() {
    if (integer_) return *integer_;
    ByteSet nz;
    nz.add_range('1', '9');
    const RuleId sign = g_.choice("sign", {{}, lit("-")});
    const RuleId magnitude = g_.choice("magnitude", {lit("0"), {Grammar::bytes_elem(g_.byte_set(nz)), Grammar::repeat_elem(digits_rule(), 0, 18)}});
    integer_ = g_.choice("integer", {{Grammar::rule_elem(sign), Grammar::rule_elem(magnitude)}});
    return *integer_;
  }

  RuleId number_rule() {
    if (number_) return *number_;
    std::vector<Element> frac = lit(".");
    frac.push_back(Grammar::repeat_elem(digits_rule(), 1, 20));
    ByteSet e, pm;
    e.add('e');
    e.add('E');
    pm.add('+');
    pm.add('-');
    const RuleId exp_sign = g_.choice("exponent sign", {{}, {Grammar::bytes_elem(g_.byte_set(pm))}});
    const RuleId fraction = g_.choice("fraction", {{}, frac});
    const RuleId exponent = g_.choice("exponent", {{}, {Grammar::bytes_elem(g_.byte_set(e)), Grammar::rule_elem(exp_sign), Grammar::repeat_elem(digits_rule(), 1, 3)}});
    number_ = g_.choice("number", {{Grammar::rule_elem(integer_rule()), Grammar::rule_elem(fraction), Grammar::rule_elem(exponent)}});
    return *number_;
  }

  // Any JSON value (recursive).
  RuleId any_value() {
    if (any_value_) return *any_value_;
    Shared shared(*this);
    any_value_ = g_.new_rule("value");
    const RuleId str = g_.choice("string", {[&] {
      std::vector<Element> s = lit("\"");
      s.push_back(Grammar::repeat_elem(char_rule(), 0, Element::kUnbounded));
      g_.append_literal(s, "\"");
      return s;
    }()});
    std::vector<Element> comma = {ws()};
    g_.append_literal(comma, ",");
    comma.push_back(ws());
    const RuleId comma_value = g_.new_rule("comma value");
    {
      std::vector<Element> c = comma;
      c.push_back(Grammar::rule_elem(*any_value_));
      g_.add_alternative(comma_value, c);
    }
    std::vector<Element> empty = lit("[");
    empty.push_back(ws());
    g_.append_literal(empty, "]");
    std::vector<Element> full = lit("[");
    full.insert(full.end(), {ws(), Grammar::rule_elem(*any_value_), Grammar::repeat_elem(comma_value, 0, Element::kUnbounded), ws()});
    g_.append_literal(full, "]");
    const RuleId arr = g_.choice("array", {empty, full});
    for (const RuleId r : {any_object(), arr, str, number_rule(), g_.literal_rule("true"), g_.literal_rule("false"), g_.literal_rule("null")})
      g_.add_alternative(*any_value_, {Grammar::rule_elem(r)});
    return *any_value_;
  }

  RuleId any_object() {
    if (any_object_) return *any_object_;
    Shared shared(*this);
    any_object_ = g_.new_rule("object");
    const RuleId key = g_.choice("key", {[&] {
      std::vector<Element> s = lit("\"");
      s.push_back(Grammar::repeat_elem(char_rule(), 0, Element::kUnbounded));
      g_.append_literal(s, "\"");
      return s;
    }()});
    std::vector<Element> m = {Grammar::rule_elem(key), ws()};
    g_.append_literal(m, ":");
    m.insert(m.end(), {ws(), Grammar::rule_elem(any_value())});
    const RuleId member = g_.choice("member", {m});
    std::vector<Element> c = {ws()};
    g_.append_literal(c, ",");
    c.insert(c.end(), {ws(), Grammar::rule_elem(member)});
    const RuleId comma_member = g_.choice("comma member", {c});
    std::vector<Element> empty = lit("{");
    empty.push_back(ws());
    g_.append_literal(empty, "}");
    std::vector<Element> full = lit("{");
    full.insert(full.end(), {ws(), Grammar::rule_elem(member), Grammar::repeat_elem(comma_member, 0, Element::kUnbounded), ws()});
    g_.append_literal(full, "}");
    g_.add_alternative(*any_object_, empty);
    g_.add_alternative(*any_object_, full);
    return *any_object_;
  }

  static constexpr uint32_t kMaxIndent = 64;
  Grammar& g_;
  const Schema& root_;
  std::map<uint32_t, RuleId> ws_rules_;
  int nesting_ = 0;         // the schema depth of the object or array being built (at least its JSON depth)
  bool in_shared_ = false;  // building a rule used at more than one depth
  std::map<std::string, RuleId> refs_;
  std::optional<RuleId> char_, digit_, integer_, number_, any_value_, any_object_, plain_;
};

}  // namespace

std::shared_ptr<const Grammar> compile_json_schema(const nlohmann::ordered_json& schema, const std::string& prefix,
                                                   const std::string& suffix) {
  auto g = std::make_shared<Grammar>();
  SchemaCompiler compiler(*g, schema);
  g->set_root(compiler.document(schema, prefix, suffix));
  g->finalize();
  return g;
}

std::shared_ptr<const Grammar> json_object_grammar() {
  auto g = std::make_shared<Grammar>();
  Schema empty = Schema::object();
  SchemaCompiler compiler(*g, empty);
  g->set_root(compiler.any_object_document());
  g->finalize();
  return g;
}

}  // namespace fm
