// Reading and validating YaWL documents. Validation walks the document once, collecting every problem with its
// path, so a user fixes a document in one round.
#include "workflow/yawl_document.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <set>

#include "workflow/jq_template.h"

namespace fm::workflow {
namespace {

std::string join(const std::vector<std::string>& lines) {
  std::string out = "invalid workflow document: ";
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "; " : "") + lines[i];
  return out;
}

// YAML -> JSON with the YAML 1.2 core schema: only plain (unquoted) scalars are typed.
json from_yaml(const YAML::Node& node, int depth) {
  if (depth > 64) throw DocumentError({"document: nested deeper than 64 levels"});
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(from_yaml(item, depth + 1));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) throw DocumentError({"document: a mapping key is not a scalar"});
        out[kv.first.Scalar()] = from_yaml(kv.second, depth + 1);
      }
      return out;
    }
    case YAML::NodeType::Scalar:
      break;
  }
  const std::string& s = node.Scalar();
  if (node.Tag() != "?") return s;  // quoted or explicitly tagged: a string
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return nullptr;
  json number = json::parse(s, nullptr, false);
  if (!number.is_discarded() && number.is_number()) return number;
  return s;
}

class Validator {
 public:
  std::vector<std::string> problems;

  void add(const std::string& path, const std::string& what) {
    if (problems.size() < 100) problems.push_back(path + ": " + what);
  }

  // Steps of one body (the document's or a foreach/parallel/while body): `next` targets must be among them.
  void steps_body(const json& body, const std::string& path, const std::set<std::string>& outer_ids) {
    if (!body.is_object()) return add(path, "must be an object with 'start' and 'steps'");
    only_keys(body, path, {"start", "steps", "yawl", "defaultRetryPolicy"});
    const json* steps = member(body, "steps");
    if (!steps || !steps->is_object() || steps->empty()) return add(path + (path.empty() ? "" : ".") + "steps", "required: an object of steps");
    std::set<std::string> ids;
    for (auto it = steps->begin(); it != steps->end(); ++it) ids.insert(it.key());
    const std::string prefix = path.empty() ? "" : path + ".";
    const json* start = member(body, "start");
    if (!start || !start->is_string()) add(prefix + "start", "required: the id of the first step");
    else check_target(start->get<std::string>(), prefix + "start", ids, outer_ids);
    std::set<std::string> all = outer_ids;
    all.insert(ids.begin(), ids.end());
    for (auto it = steps->begin(); it != steps->end(); ++it) step(it.value(), prefix + "steps." + it.key(), ids, all);
  }

 private:
  static const json* member(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }

  void only_keys(const json& obj, const std::string& path, std::initializer_list<const char*> allowed) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      bool ok = false;
      for (const char* a : allowed) ok = ok || it.key() == a;
      if (!ok) add(path + (path.empty() ? "" : ".") + it.key(), "unknown key");
    }
  }

  void check_target(const std::string& target, const std::string& path, const std::set<std::string>& ids,
                    const std::set<std::string>& outer_ids) {
    if (ids.count(target)) return;
    if (outer_ids.count(target)) return add(path, "step '" + target + "' is outside this body; a body's steps may only go to its own steps");
    add(path, "no step '" + target + "'");
  }

  void next_field(const json& spec, const std::string& path, const std::set<std::string>& ids, const std::set<std::string>& all) {
    const json* next = member(spec, "next");
    if (!next) return;
    if (!next->is_string()) return add(path + ".next", "must be a step id");
    std::set<std::string> outer;
    for (const auto& id : all)
      if (!ids.count(id)) outer.insert(id);
    check_target(next->get<std::string>(), path + ".next", ids, outer);
  }

  void template_field(const json& spec, const char* key, const std::string& path) {
    const json* v = member(spec, key);
    if (!v) return;
    templates(*v, path + "." + key);
  }

  // Every string with `\(` must be a well-formed template whose programs compile.
  void templates(const json& v, const std::string& path) {
    if (v.is_string()) {
      const std::string error = check_template(v.get<std::string>());
      if (!error.empty()) add(path, error);
    } else if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) templates(it.value(), path + "." + it.key());
    } else if (v.is_array()) {
      for (size_t i = 0; i < v.size(); ++i) templates(v[i], path + "[" + std::to_string(i) + "]");
    }
  }

  void string_field(const json& spec, const char* key, const std::string& path, bool required) {
    const json* v = member(spec, key);
    if (!v) {
      if (required) add(path + "." + key, "required");
      return;
    }
    if (!v->is_string()) add(path + "." + key, "must be a string");
  }

  void duration_field(const json& spec, const char* key, const std::string& path) {
    const json* v = member(spec, key);
    if (!v) return;
    try {
      parse_duration_ms(*v);
    } catch (const std::exception& e) {
      add(path + "." + key, e.what());
    }
  }

  void positive_int(const json& spec, const char* key, const std::string& path) {
    const json* v = member(spec, key);
    if (v && (!v->is_number_integer() || v->get<int64_t>() < 1)) add(path + "." + key, "must be a positive integer");
  }

  // public: the document's defaultRetryPolicy is checked as every step's retryPolicy is
 public:
  void retry_policy(const json& p, const std::string& path) {
    if (!p.is_object()) return add(path, "must be an object");
    only_keys(p, path, {"errorList", "errorListMode", "initialDelay", "backoffRate", "retryCount", "maxDelay"});
    error_list(p, path);
    duration_field(p, "initialDelay", path);
    duration_field(p, "maxDelay", path);
    const json* rate = member(p, "backoffRate");
    if (rate && (!rate->is_number() || rate->get<double>() < 1 || rate->get<double>() > 100)) add(path + ".backoffRate", "must be a number in [1, 100]");
    const json* count = member(p, "retryCount");
    if (count && (!count->is_number_integer() || count->get<int64_t>() < 0 || count->get<int64_t>() > 100))
      add(path + ".retryCount", "must be an integer in [0, 100]");
  }

 private:
  void error_list(const json& p, const std::string& path) {
    const json* list = member(p, "errorList");
    if (list && (!list->is_array() || std::any_of(list->begin(), list->end(), [](const json& e) { return !e.is_string(); })))
      add(path + ".errorList", "must be a list of error names");
    const json* mode = member(p, "errorListMode");
    if (mode && (!mode->is_string() || (*mode != "INCLUDE" && *mode != "EXCLUDE"))) add(path + ".errorListMode", "must be INCLUDE or EXCLUDE");
  }

  void integration_common(const json& spec, const std::string& path, const std::set<std::string>& ids, const std::set<std::string>& all) {
    template_field(spec, "input", path);
    template_field(spec, "output", path);
    next_field(spec, path, ids, all);
    duration_field(spec, "timeout", path);
    if (const json* p = member(spec, "retryPolicy")) retry_policy(*p, path + ".retryPolicy");
    if (const json* c = member(spec, "catch")) {
      if (!c->is_array()) return add(path + ".catch", "must be a list of rules");
      for (size_t i = 0; i < c->size(); ++i) {
        const std::string rp = path + ".catch[" + std::to_string(i) + "]";
        const json& rule = (*c)[i];
        if (!rule.is_object()) {
          add(rp, "must be an object");
          continue;
        }
        only_keys(rule, rp, {"errorList", "errorListMode", "output", "next"});
        error_list(rule, rp);
        template_field(rule, "output", rp);
        if (!member(rule, "next")) add(rp + ".next", "required");
        next_field(rule, rp, ids, all);
      }
    }
  }

  void messages_or_json(const json& spec, const std::string& path, bool vision) {
    const json* messages = member(spec, "messages");
    const json* js = member(spec, "json");
    if (!!messages == !!js) return add(path, "exactly one of 'messages' and 'json' is required");
    if (js) return string_field(spec, "json", path, true);
    const std::string mp = path + ".messages";
    if (!messages->is_object()) return add(mp, "must be an object {messages: [...]}");
    only_keys(*messages, mp, {"messages"});
    const json* list = member(*messages, "messages");
    if (!list || !list->is_array() || list->empty()) return add(mp + ".messages", "required: a non-empty list of messages");
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string p = mp + ".messages[" + std::to_string(i) + "]";
      const json& m = (*list)[i];
      if (!m.is_object()) {
        add(p, "must be an object");
        continue;
      }
      if (vision) only_keys(m, p, {"role", "text", "images"});
      else only_keys(m, p, {"role", "text"});
      string_field(m, "role", p, true);
      string_field(m, "text", p, !vision);
      if (vision) vision_images(m, p);
    }
  }

  void vision_images(const json& m, const std::string& p) {
    const json* images = member(m, "images");
    if (!images) return;
    if (m.value("role", "") != "user") add(p + ".role", "must be 'user' when the message has images");
    const json list = images->is_array() ? *images : json::array({*images});
    for (size_t k = 0; k < list.size(); ++k) {
      const std::string ip = p + ".images[" + std::to_string(k) + "]";
      const json& img = list[k];
      if (!img.is_object() || img.size() != 1 || !(img.contains("base64") || img.contains("file"))) {
        add(ip, "must have exactly one of 'base64' and 'file'");
        continue;
      }
      if (const json* f = member(img, "file")) {
        if (!f->is_object() || f->size() != 1 || !(f->contains("url") || f->contains("objectStorage")))
          add(ip + ".file", "must have exactly one of 'url' and 'objectStorage'");
        else if (const json* os = member(*f, "objectStorage")) {
          if (!os->is_object() || !os->contains("bucket") || !os->contains("object")) add(ip + ".file.objectStorage", "needs 'bucket' and 'object'");
        }
      }
    }
  }

  void foundation_models_call(const json& spec, const std::string& path) {
    string_field(spec, "modelUrl", path, true);
    int kinds = 0;
    for (const char* k : {"generate", "classify", "fewShotClassify", "vision"}) kinds += spec.contains(k);
    if (kinds != 1) return add(path, "exactly one of 'generate', 'classify', 'fewShotClassify' and 'vision' is required");
    templates(spec, path);
    if (const json* g = member(spec, "generate")) {
      const std::string gp = path + ".generate";
      if (!g->is_object()) return add(gp, "must be an object");
      only_keys(*g, gp, {"temperature", "maxTokens", "reasoningOptions", "json", "messages", "jsonSchema", "jsonObject"});
      if (!g->contains("maxTokens")) add(gp + ".maxTokens", "required");
      if (g->contains("jsonSchema") && g->contains("jsonObject")) add(gp, "at most one of 'jsonSchema' and 'jsonObject'");
      messages_or_json(*g, gp, false);
    } else if (const json* c = member(spec, "classify")) {
      const std::string cp = path + ".classify";
      if (!c->is_object()) return add(cp, "must be an object");
      only_keys(*c, cp, {"text"});
      string_field(*c, "text", cp, true);
    } else if (const json* f = member(spec, "fewShotClassify")) {
      const std::string fp = path + ".fewShotClassify";
      if (!f->is_object()) return add(fp, "must be an object");
      only_keys(*f, fp, {"taskDescription", "text", "labelsJson", "labelsArray", "samplesJson", "samplesArray"});
      string_field(*f, "text", fp, true);
      string_field(*f, "taskDescription", fp, false);
      if (f->contains("labelsJson") == f->contains("labelsArray")) add(fp, "exactly one of 'labelsJson' and 'labelsArray' is required");
      if (f->contains("samplesJson") && f->contains("samplesArray")) add(fp, "at most one of 'samplesJson' and 'samplesArray'");
    } else if (const json* v = member(spec, "vision")) {
      const std::string vp = path + ".vision";
      if (!v->is_object()) return add(vp, "must be an object");
      only_keys(*v, vp, {"temperature", "maxTokens", "json", "messages"});
      if (!v->contains("maxTokens")) add(vp + ".maxTokens", "required");
      messages_or_json(*v, vp, true);
    }
  }

  void step(const json& step, const std::string& path, const std::set<std::string>& ids, const std::set<std::string>& all) {
    if (!step.is_object()) return add(path, "must be an object");
    std::vector<std::string> types;
    for (auto it = step.begin(); it != step.end(); ++it) {
      if (it.key() == "title" || it.key() == "description") {
        if (!it.value().is_string()) add(path + "." + it.key(), "must be a string");
        continue;
      }
      bool known = false;
      for (const char* t : kStepTypes) known = known || it.key() == t;
      if (!known) add(path + "." + it.key(), "unknown key (step types: foundationModelsCall, httpCall, switch, foreach, parallel, while, wait, noOp, success, fail)");
      else types.push_back(it.key());
    }
    if (types.size() != 1) return add(path, types.empty() ? "needs a step type" : "has more than one step type");
    const std::string& type = types[0];
    const std::string tp = path + "." + type;
    const json& spec = step[type];
    if (!spec.is_object()) return add(tp, "must be an object");
    if (type == "foundationModelsCall") {
      only_keys(spec, tp, {"modelUrl", "generate", "classify", "fewShotClassify", "vision", "input", "output", "next", "timeout", "retryPolicy", "catch"});
      integration_common(spec, tp, ids, all);
      foundation_models_call(spec, tp);
    } else if (type == "httpCall") {
      only_keys(spec, tp, {"url", "method", "headers", "query", "body", "input", "output", "next", "timeout", "retryPolicy", "catch"});
      integration_common(spec, tp, ids, all);
      string_field(spec, "url", tp, true);
      templates(spec, tp);
      if (const json* m = member(spec, "method")) {
        static const std::set<std::string> methods = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
        if (!m->is_string() || !methods.count(m->get<std::string>())) add(tp + ".method", "must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS");
      }
      for (const char* k : {"headers", "query"})
        if (const json* h = member(spec, k); h && !h->is_object()) add(tp + "." + k, "must be an object");
    } else if (type == "switch") {
      only_keys(spec, tp, {"input", "choices", "default"});
      template_field(spec, "input", tp);
      const json* choices = member(spec, "choices");
      if (!choices || !choices->is_array() || choices->empty()) add(tp + ".choices", "required: a non-empty list of {condition, next}");
      else
        for (size_t i = 0; i < choices->size(); ++i) {
          const std::string cp = tp + ".choices[" + std::to_string(i) + "]";
          const json& c = (*choices)[i];
          if (!c.is_object()) {
            add(cp, "must be an object");
            continue;
          }
          only_keys(c, cp, {"condition", "next"});
          string_field(c, "condition", cp, true);
          template_field(c, "condition", cp);
          if (!c.contains("next")) add(cp + ".next", "required");
          next_field(c, cp, ids, all);
        }
      if (const json* d = member(spec, "default")) {
        if (!d->is_object() || !d->contains("next")) add(tp + ".default", "must be {next: <step id>}");
        else {
          only_keys(*d, tp + ".default", {"next"});
          next_field(*d, tp + ".default", ids, all);
        }
      }
    } else if (type == "foreach" || type == "while") {
      if (type == "foreach") only_keys(spec, tp, {"input", "output", "do", "concurrency", "next"});
      else only_keys(spec, tp, {"input", "output", "do", "condition", "max_iterations", "maxIterations", "next"});
      for (const char* k : {"input", "output", "condition"}) template_field(spec, k, tp);
      positive_int(spec, "concurrency", tp);
      positive_int(spec, "max_iterations", tp);
      positive_int(spec, "maxIterations", tp);
      if (type == "while" && !spec.contains("condition") && !spec.contains("max_iterations") && !spec.contains("maxIterations"))
        add(tp, "needs a 'condition' or 'max_iterations'");
      next_field(spec, tp, ids, all);
      if (!spec.contains("do")) add(tp + ".do", "required");
      else steps_body(spec["do"], tp + ".do", all);
    } else if (type == "parallel") {
      only_keys(spec, tp, {"input", "output", "branches", "concurrency", "next"});
      template_field(spec, "input", tp);
      template_field(spec, "output", tp);
      positive_int(spec, "concurrency", tp);
      next_field(spec, tp, ids, all);
      const json* branches = member(spec, "branches");
      if (!branches || !branches->is_object() || branches->empty()) add(tp + ".branches", "required: an object of branches");
      else
        for (auto it = branches->begin(); it != branches->end(); ++it) steps_body(it.value(), tp + ".branches." + it.key(), all);
    } else if (type == "wait") {
      only_keys(spec, tp, {"duration", "until", "next"});
      if (spec.contains("duration") == spec.contains("until")) add(tp, "exactly one of 'duration' and 'until' is required");
      duration_field(spec, "duration", tp);
      if (spec.contains("until")) string_field(spec, "until", tp, true);
      next_field(spec, tp, ids, all);
    } else if (type == "noOp") {
      only_keys(spec, tp, {"input", "output", "next"});
      template_field(spec, "input", tp);
      template_field(spec, "output", tp);
      next_field(spec, tp, ids, all);
    } else if (type == "success") {
      only_keys(spec, tp, {});
    } else if (type == "fail") {
      only_keys(spec, tp, {"errorMessage"});
      string_field(spec, "errorMessage", tp, false);
      template_field(spec, "errorMessage", tp);
    }
  }
};

}  // namespace

DocumentError::DocumentError(std::vector<std::string> problems) : std::invalid_argument(join(problems)), problems_(std::move(problems)) {}

std::vector<std::string> validate_document(const json& doc) {
  Validator v;
  if (!doc.is_object()) return {"document: must be an object with yawl, start and steps"};
  const auto yawl = doc.find("yawl");
  if (yawl == doc.end()) v.add("yawl", "required (\"0.1\")");
  else if (!yawl->is_string() || (*yawl != "0.1" && *yawl != "1.0")) v.add("yawl", "must be \"0.1\" or \"1.0\"");
  if (auto p = doc.find("defaultRetryPolicy"); p != doc.end()) v.retry_policy(*p, "defaultRetryPolicy");
  v.steps_body(doc, "", {});
  return v.problems;
}

json parse_document(const std::string& text) {
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw DocumentError({"document: not YAML or JSON: " + std::string(e.what())});
  }
  json doc = from_yaml(node, 0);
  std::vector<std::string> problems = validate_document(doc);
  if (!problems.empty()) throw DocumentError(std::move(problems));
  return doc;
}

std::string step_type(const json& step) {
  for (auto it = step.begin(); it != step.end(); ++it)
    if (it.key() != "title" && it.key() != "description") return it.key();
  return "";
}

int64_t parse_duration_ms(const json& value) {
  double seconds = -1;
  if (value.is_number()) {
    seconds = value.get<double>();
  } else if (value.is_string()) {
    const std::string s = value.get<std::string>();
    size_t used = 0;
    double n = 0;
    try {
      n = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    const std::string unit = used ? s.substr(used) : "?";
    if (unit == "" || unit == "s") seconds = n;
    else if (unit == "ms") seconds = n / 1000;
    else if (unit == "m") seconds = n * 60;
    else if (unit == "h") seconds = n * 3600;
    else if (unit == "d") seconds = n * 86400;
  }
  if (!(seconds >= 0) || !std::isfinite(seconds) || seconds > 366.0 * 86400)
    throw std::invalid_argument("must be a duration such as 500ms, 10s, 15m or 2h (at most a year)");
  return static_cast<int64_t>(std::llround(seconds * 1000));
}

}  // namespace fm::workflow
