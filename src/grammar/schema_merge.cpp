#include "grammar/schema_merge.h"

#include <algorithm>

#include "grammar/grammar.h"

namespace fm {

namespace {

const std::set<std::string> kAllTypes = {"object", "array", "string", "integer", "number", "boolean", "null"};

std::string type_of(const Schema& v) {
  if (v.is_object()) return "object";
  if (v.is_array()) return "array";
  if (v.is_string()) return "string";
  if (v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>()))))
    return "integer";
  if (v.is_number()) return "number";
  if (v.is_boolean()) return "boolean";
  return "null";
}

// Values a schema is limited to by const / enum, or nullptr.
const Schema* value_list(const Schema& s, Schema& storage) {
  if (!s.is_object()) return nullptr;
  if (s.contains("const")) {
    storage = Schema::array({s["const"]});
    return &storage;
  }
  if (s.contains("enum") && s["enum"].is_array()) return &s["enum"];
  return nullptr;
}

bool lists_disjoint(const Schema& a, const Schema& b) {
  for (const auto& x : a)
    for (const auto& y : b)
      if (x == y) return false;
  return true;
}

}  // namespace

std::set<std::string> schema_types(const Schema& s) {
  if (!s.is_object()) return s == false ? std::set<std::string>{} : kAllTypes;
  Schema storage;
  if (const Schema* values = value_list(s, storage)) {
    std::set<std::string> out;
    for (const auto& v : *values) out.insert(type_of(v));
    if (out.count("integer")) out.insert("number");
    return out;
  }
  std::set<std::string> out;
  if (s.contains("type")) {
    const auto& t = s["type"];
    if (t.is_string()) out.insert(t.get<std::string>());
    else if (t.is_array())
      for (const auto& x : t)
        if (x.is_string()) out.insert(x.get<std::string>());
    if (out.count("number")) out.insert("integer");
  } else if (s.contains("anyOf") || s.contains("oneOf") || s.contains("$ref") || s.contains("allOf")) {
    return kAllTypes;  // unknown without resolving
  } else {
    return kAllTypes;
  }
  if (s.value("nullable", false)) out.insert("null");
  return out;
}

bool schemas_disjoint(const Schema& a, const Schema& b) {
  std::set<std::string> ta = schema_types(a), tb = schema_types(b);
  bool common = false;
  for (const auto& t : ta) common = common || tb.count(t);
  if (!common) return true;
  Schema sa, sb;
  const Schema* va = value_list(a, sa);
  const Schema* vb = value_list(b, sb);
  if (va && vb && lists_disjoint(*va, *vb)) return true;
  // Objects told apart by a property both require, with disjoint const / enum values.
  if (a.is_object() && b.is_object() && a.contains("properties") && b.contains("properties") && a.contains("required") &&
      b.contains("required") && a["required"].is_array() && b["required"].is_array()) {
    for (const auto& name : a["required"]) {
      if (!name.is_string()) continue;
      const std::string key = name.get<std::string>();
      const bool in_b = std::find(b["required"].begin(), b["required"].end(), name) != b["required"].end();
      if (!in_b || !a["properties"].contains(key) || !b["properties"].contains(key)) continue;
      Schema pa, pb;
      const Schema* xa = value_list(a["properties"][key], pa);
      const Schema* xb = value_list(b["properties"][key], pb);
      if (xa && xb && lists_disjoint(*xa, *xb)) return true;
    }
  }
  return false;
}

Schema merge_schemas(const Schema& a, const Schema& b, const std::string& path) {
  if (std::count(path.begin(), path.end(), '/') > 128) throw GrammarError(path + ": allOf merges nest too deeply");
  if (a == true || (a.is_object() && a.empty())) return b;
  if (b == true || (b.is_object() && b.empty())) return a;
  if (a == false || b == false) throw GrammarError(path + ": allOf can never be satisfied (a false schema)");
  if (!a.is_object() || !b.is_object()) throw GrammarError(path + ": allOf members must be schemas");
  // additionalProperties in one branch sees only that branch's properties: merging would allow more than the
  // schema does, so it is refused unless the other branch declares no new property.
  auto declares_outside = [](const Schema& x, const Schema& y) {
    if (!y.contains("properties") || !y["properties"].is_object()) return false;
    for (const auto& [k, v] : y["properties"].items())
      if (!x.contains("properties") || !x["properties"].contains(k)) return true;
    return false;
  };
  if ((a.contains("additionalProperties") && a["additionalProperties"] != true && declares_outside(a, b)) ||
      (b.contains("additionalProperties") && b["additionalProperties"] != true && declares_outside(b, a)))
    throw GrammarError(path + ": allOf combining additionalProperties with another member's properties is not supported");

  Schema out = a;
  for (const auto& [key, bv] : b.items()) {
    if (!out.contains(key)) {
      out[key] = bv;
      continue;
    }
    Schema& av = out[key];
    if (av == bv) continue;
    if (key == "properties" && av.is_object() && bv.is_object()) {
      for (const auto& [p, ps] : bv.items()) av[p] = av.contains(p) ? merge_schemas(av[p], ps, path + "/properties/" + p) : ps;
    } else if (key == "required" && av.is_array() && bv.is_array()) {
      for (const auto& r : bv)
        if (std::find(av.begin(), av.end(), r) == av.end()) av.push_back(r);
    } else if (key == "type") {
      std::set<std::string> ta = schema_types(Schema{{"type", av}}), tb = schema_types(Schema{{"type", bv}});
      Schema both = Schema::array();
      for (const auto& t : ta)
        if (tb.count(t) && !(t == "number" && (!ta.count("number") || !tb.count("number")))) both.push_back(t);
      if (both.empty()) throw GrammarError(path + ": allOf members allow no common type");
      av = both;
    } else if ((key == "minimum" || key == "minLength" || key == "minItems" || key == "minProperties") &&
               av.is_number() && bv.is_number()) {
      if (bv.get<double>() > av.get<double>()) av = bv;
    } else if ((key == "maximum" || key == "maxLength" || key == "maxItems" || key == "maxProperties") &&
               av.is_number() && bv.is_number()) {
      if (bv.get<double>() < av.get<double>()) av = bv;
    } else if (key == "enum" && av.is_array() && bv.is_array()) {
      Schema both = Schema::array();
      for (const auto& x : av)
        if (std::find(bv.begin(), bv.end(), x) != bv.end()) both.push_back(x);
      if (both.empty()) throw GrammarError(path + ": allOf members allow no common enum value");
      av = both;
    } else if (key == "additionalProperties" || key == "items") {
      if (av == false || bv == false) av = false;
      else av = merge_schemas(av, bv, path + "/" + key);
    } else if (key == "title" || key == "description" || key == "$comment" || key == "examples" || key == "default") {
      // annotations: keep the first
    } else {
      throw GrammarError(path + ": allOf members with different '" + key + "' values are not supported");
    }
  }
  return out;
}

}  // namespace fm
