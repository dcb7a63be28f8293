#include "service/model_registry.h"

#include <yaml-cpp/yaml.h>

#include "util/duration.h"

#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fm {
namespace {

const char* const kBranches[] = {"latest", "rc", "deprecated"};

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

[[noreturn]] void fail(const std::string& origin, const YAML::Node& node, const std::string& what) {
  const int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
  throw std::runtime_error(origin + (line ? ":" + std::to_string(line) : "") + ": " + what);
}

size_t parse_size(const std::string& origin, const YAML::Node& node) {
  const std::string text = node.as<std::string>();
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    fail(origin, node, "'" + text + "' is not a size (e.g. 512MiB, 8GiB)");
  }
  const std::string unit = text.substr(used);
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "KiB" || unit == "K") scale = 1024.0;
  else if (unit == "MiB" || unit == "M") scale = 1024.0 * 1024;
  else if (unit == "GiB" || unit == "G") scale = 1024.0 * 1024 * 1024;
  if (scale == 0 || v < 0) fail(origin, node, "'" + text + "' is not a size (e.g. 512MiB, 8GiB)");
  return static_cast<size_t>(v * scale);
}

int64_t parse_duration(const std::string& origin, const YAML::Node& node) {
  try {
    return parse_duration_seconds(node.as<std::string>());
  } catch (const std::invalid_argument& e) {
    fail(origin, node, e.what());
  }
}

int positive_int(const std::string& origin, const YAML::Node& node) {
  const int v = node.as<int>();
  if (v < 1) fail(origin, node, "must be at least 1");
  return v;
}

void parse_limits(const std::string& origin, const YAML::Node& node, RequestLimits& limits) {
  if (!node.IsMap()) fail(origin, node, "'limits' must be a mapping");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "max_json_depth") limits.max_json_depth = positive_int(origin, v);
    else if (key == "max_messages") limits.max_messages = positive_int(origin, v);
    else if (key == "max_content_parts") limits.max_content_parts = positive_int(origin, v);
    else if (key == "max_stop_strings") limits.max_stop_strings = positive_int(origin, v);
    else if (key == "max_tools") limits.max_tools = positive_int(origin, v);
    else if (key == "stream_buffer") limits.max_stream_buffer_bytes = parse_size(origin, v);
    else if (key == "header_timeout") limits.header_timeout_s = static_cast<int>(parse_duration(origin, v));
    else if (key == "body_timeout") limits.body_timeout_s = static_cast<int>(parse_duration(origin, v));
    else fail(origin, kv.first, "unknown limit '" + key + "'");
  }
  // Parsed trees are walked recursively (template values, stored requests): their depth stays small.
  if (limits.max_json_depth > 1000) fail(origin, node, "max_json_depth must be at most 1000");
}

}  // namespace

const char* model_kind_name(ModelKind kind) {
  switch (kind) {
    case ModelKind::kText: return "text";
    case ModelKind::kVision: return "vision";
    case ModelKind::kClassifier: return "classifier";
    case ModelKind::kEmbedding: return "embedding";
    case ModelKind::kImage: return "image";
  }
  return "text";
}

const ModelConfig* ServiceConfig::find(const std::string& name) const {
  for (const auto& m : models)
    if (m.name == name) return &m;
  return nullptr;
}

ServiceConfig parse_service_config(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(origin + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  ServiceConfig cfg;
  if (!root.IsMap()) throw std::runtime_error(origin + ": the configuration must be a mapping with a 'models' list");
  try {
    if (root["memory_budget"]) cfg.memory_budget_bytes = parse_size(origin, root["memory_budget"]);
    if (root["max_body_size"]) cfg.max_body_bytes = parse_size(origin, root["max_body_size"]);
    if (root["max_queue"]) cfg.max_queue = root["max_queue"].as<int>();
    if (root["max_running"]) cfg.max_running = root["max_running"].as<int>();
    if (root["kv_budget"]) cfg.kv_budget_bytes = parse_size(origin, root["kv_budget"]);
    if (cfg.max_queue < 1 || cfg.max_running < 1) fail(origin, root, "max_queue and max_running must be at least 1");
    if (root["threads"]) cfg.threads = root["threads"].as<int>();
    if (const YAML::Node limits = root["limits"]) parse_limits(origin, limits, cfg.limits);
    if (const YAML::Node ops = root["operations"]) {
      if (!ops.IsMap()) fail(origin, ops, "'operations' must be a mapping");
      if (ops["retention"]) cfg.operation_retention_s = parse_duration(origin, ops["retention"]);
      if (ops["concurrency"]) cfg.operation_concurrency = positive_int(origin, ops["concurrency"]);
    }
    if (const YAML::Node batch = root["batch"]) {
      if (!batch.IsMap()) fail(origin, batch, "'batch' must be a mapping");
      if (batch["lines_in_flight"]) cfg.batch_lines_in_flight = positive_int(origin, batch["lines_in_flight"]);
      if (batch["tasks"]) cfg.batch_concurrency = positive_int(origin, batch["tasks"]);
      if (batch["max_dataset_size"]) cfg.max_dataset_bytes = static_cast<int64_t>(parse_size(origin, batch["max_dataset_size"]));
      if (batch["max_upload_size"]) cfg.max_upload_body_bytes = parse_size(origin, batch["max_upload_size"]);
    }
    if (const YAML::Node wf = root["workflows"]) {
      if (!wf.IsMap()) fail(origin, wf, "'workflows' must be a mapping");
      if (wf["executions"]) cfg.workflow_concurrency = positive_int(origin, wf["executions"]);
      if (wf["template_timeout"]) cfg.workflow_template_timeout_s = parse_duration(origin, wf["template_timeout"]);
    }
    if (const YAML::Node f = root["image_fetch"]) {
      if (!f.IsMap()) fail(origin, f, "'image_fetch' must be a mapping");
      ImageFetchConfig& c = cfg.image_fetch;
      for (const auto& kv : f) {
        const std::string key = kv.first.as<std::string>();
        const YAML::Node& v = kv.second;
        if (key == "connect_timeout") c.connect_timeout_s = parse_duration(origin, v);
        else if (key == "timeout") c.timeout_s = parse_duration(origin, v);
        else if (key == "max_size") c.max_bytes = parse_size(origin, v);
        else if (key == "max_redirects") c.max_redirects = v.as<int>();
        else if (key == "cache_size") c.cache_bytes = parse_size(origin, v);
        else if (key == "allow_hosts") {
          if (!v.IsSequence()) fail(origin, v, "image_fetch.allow_hosts must be a list of hosts");
          for (const auto& h : v) c.allow_hosts.push_back(h.as<std::string>());
        } else if (key == "s3") {
          if (!v.IsMap()) fail(origin, v, "image_fetch.s3 must be a mapping");
          if (v["endpoint"]) c.s3_endpoint = v["endpoint"].as<std::string>();
          if (v["region"]) c.s3_region = v["region"].as<std::string>();
          if (v["access_key_id"]) c.s3_access_key_id = v["access_key_id"].as<std::string>();
          if (v["secret_access_key"]) c.s3_secret_access_key = v["secret_access_key"].as<std::string>();
        } else {
          fail(origin, kv.first, "unknown image_fetch key '" + key +
                                 "' (connect_timeout, timeout, max_size, max_redirects, cache_size, allow_hosts, s3)");
        }
      }
      if (c.max_redirects < 0 || c.max_redirects > 20) fail(origin, f, "image_fetch.max_redirects must be 0..20");
    }
    const YAML::Node models = root["models"];
    if (!models || !models.IsSequence()) fail(origin, root, "'models' must be a list");
    for (const YAML::Node& m : models) {
      if (!m.IsMap()) fail(origin, m, "each model must be a mapping");
      ModelConfig mc;
      if (!m["name"]) fail(origin, m, "a model needs a 'name'");
      mc.name = m["name"].as<std::string>();
      if (!valid_name(mc.name)) fail(origin, m["name"], "model name '" + mc.name + "' must be letters, digits, '-', '_' or '.'");
      if (cfg.find(mc.name)) fail(origin, m["name"], "model '" + mc.name + "' is defined twice");
      const std::string kind = m["kind"] ? m["kind"].as<std::string>() : "text";
      if (kind == "text") mc.kind = ModelKind::kText;
      else if (kind == "vision") mc.kind = ModelKind::kVision;
      else if (kind == "classifier") mc.kind = ModelKind::kClassifier;
      else if (kind == "embedding") mc.kind = ModelKind::kEmbedding;
      else if (kind == "image") mc.kind = ModelKind::kImage;
      else fail(origin, m["kind"], "unknown kind '" + kind + "' (text, vision, classifier, embedding, image)");
      if (m["context"]) {
        mc.context = m["context"].as<int64_t>();
        if (mc.context < 8 || mc.context > (1 << 22)) fail(origin, m["context"], "context must be between 8 and 4194304");
      }
      const YAML::Node branches = m["branches"];
      if (!branches || !branches.IsMap() || branches.size() == 0) fail(origin, m, "model '" + mc.name + "' needs 'branches'");
      for (const auto& kv : branches) {
        const std::string branch = kv.first.as<std::string>();
        bool known = false;
        for (const char* b : kBranches) known |= branch == b;
        if (!known) fail(origin, kv.first, "unknown branch '" + branch + "' (latest, rc, deprecated)");
        if (kv.second.IsMap()) {  // {path | model: FILE, version: "01.06.2025", mmproj: FILE}
          const YAML::Node file = kv.second["path"] ? kv.second["path"] : kv.second["model"];
          if (!file) fail(origin, kv.second, "branch '" + branch + "' needs a 'path' (or 'model')");
          mc.branches[branch] = file.as<std::string>();
          if (kv.second["version"]) mc.versions[branch] = kv.second["version"].as<std::string>();
          if (kv.second["mmproj"]) mc.branch_mmproj[branch] = kv.second["mmproj"].as<std::string>();
        } else {
          mc.branches[branch] = kv.second.as<std::string>();
        }
      }
      if (m["chat_template"]) mc.chat_template = m["chat_template"].as<std::string>();
      if (m["mmproj"]) mc.mmproj = m["mmproj"].as<std::string>();
      if (m["image_max_side"]) {
        mc.image_max_side = m["image_max_side"].as<int>();
        if (mc.image_max_side < 28 || mc.image_max_side > 8192) fail(origin, m["image_max_side"], "image_max_side must be 28..8192");
        if (mc.kind != ModelKind::kVision) fail(origin, m, "model '" + mc.name + "': 'image_max_side' applies to kind: vision");
      }
      if ((!mc.mmproj.empty() || !mc.branch_mmproj.empty()) && mc.kind != ModelKind::kVision)
        fail(origin, m, "model '" + mc.name + "': 'mmproj' applies to kind: vision");
      if (mc.kind == ModelKind::kVision)
        for (const auto& [branch, file] : mc.branches)
          if (mc.mmproj_for(branch).empty())
            fail(origin, m, "vision model '" + mc.name + "' needs an 'mmproj' projector file (for branch '" + branch + "')");
      if (m["pooling"]) {
        mc.pooling = m["pooling"].as<std::string>();
        if (mc.pooling != "mean" && mc.pooling != "last" && mc.pooling != "cls")
          fail(origin, m["pooling"], "pooling must be mean, last or cls");
      }
      if (m["causal"]) mc.causal = m["causal"].as<bool>();
      if (m["normalize"]) mc.normalize = m["normalize"].as<bool>();
      if (m["multi_label"]) mc.multi_label = m["multi_label"].as<bool>();
      if ((!mc.pooling.empty() || mc.causal || mc.normalize || mc.multi_label) && mc.kind != ModelKind::kEmbedding &&
          mc.kind != ModelKind::kClassifier)
        fail(origin, m, "pooling, causal, normalize and multi_label apply to embedding and classifier models");
      if (const YAML::Node img = m["image"]) {
        if (mc.kind != ModelKind::kImage) fail(origin, img, "model '" + mc.name + "': 'image' applies to kind: image");
        if (!img.IsMap()) fail(origin, img, "'image' must be a mapping");
        for (const auto& kv : img) {
          const std::string key = kv.first.as<std::string>();
          if (key == "steps") {
            mc.image.steps = kv.second.as<int>();
            if (mc.image.steps < 1 || mc.image.steps > 150) fail(origin, kv.second, "image.steps must be 1..150");
          } else if (key == "sampler") {
            mc.image.sampler = kv.second.as<std::string>();
            if (mc.image.sampler != "euler" && mc.image.sampler != "euler_a" && mc.image.sampler != "dpmpp2m")
              fail(origin, kv.second, "image.sampler must be euler, euler_a or dpmpp2m");
          } else if (key == "cfg_scale") {
            mc.image.cfg_scale = kv.second.as<float>();
            if (!(mc.image.cfg_scale >= 1.0f && mc.image.cfg_scale <= 30.0f)) fail(origin, kv.second, "image.cfg_scale must be 1..30");
          } else if (key == "tokenizer") {
            mc.image.tokenizer = kv.second.as<std::string>();
          } else if (key == "prediction") {
            mc.image.prediction = kv.second.as<std::string>();
            if (mc.image.prediction != "eps" && mc.image.prediction != "v" && mc.image.prediction != "auto")
              fail(origin, kv.second, "image.prediction must be eps, v or auto");
          } else if (key == "max_aspect_ratio") {
            mc.image.max_aspect_ratio = kv.second.as<double>();
            if (!(mc.image.max_aspect_ratio >= 1.0 && mc.image.max_aspect_ratio <= 16.0))
              fail(origin, kv.second, "image.max_aspect_ratio must be 1..16");
          } else if (key == "native_size") {
            mc.image.native_size = kv.second.as<int>();
            if (mc.image.native_size < 64 || mc.image.native_size > 2048 || mc.image.native_size % 64)
              fail(origin, kv.second, "image.native_size must be a multiple of 64 from 64 to 2048");
          } else {
            fail(origin, kv.first, "unknown image key '" + key +
                                   "' (steps, sampler, cfg_scale, tokenizer, prediction, max_aspect_ratio, native_size)");
          }
        }
      }
      cfg.models.push_back(std::move(mc));
    }
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(origin + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return cfg;
}

ServiceConfig load_service_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open configuration '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_service_config(ss.str(), path);
}

std::optional<ModelUri> parse_model_uri(std::string_view text, std::string* error) {
  ModelUri uri;
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    if (!valid_name(text)) {
      *error = std::string("'").append(text).append("' is not a model name or URI");
      return std::nullopt;
    }
    uri.name = std::string(text);
    return uri;
  }
  uri.scheme = std::string(text.substr(0, scheme_end));
  if (uri.scheme != "gpt" && uri.scheme != "art" && uri.scheme != "cls" && uri.scheme != "emb") {
    *error = "unknown model URI scheme '" + uri.scheme + "'";
    return std::nullopt;
  }
  std::vector<std::string> parts;
  std::string_view rest = text.substr(scheme_end + 3);
  for (size_t start = 0;;) {
    const size_t slash = rest.find('/', start);
    parts.emplace_back(rest.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 || !valid_name(parts[0]) || !valid_name(parts[1])) {
    *error = "model URI must look like " + uri.scheme + "://<folder>/<model>[/<branch>]";
    return std::nullopt;
  }
  uri.folder = parts[0];
  uri.name = parts[1];
  if (parts.size() == 3 && !parts[2].empty()) {  // "gpt://folder/name/" means latest
    uri.branch = parts[2];
    bool known = false;
    for (const char* b : kBranches) known |= uri.branch == b;
    if (!known) {
      *error = "unknown branch '" + uri.branch + "' (latest, rc, deprecated)";
      return std::nullopt;
    }
  }
  return uri;
}

std::string format_model_uri(const ModelUri& uri) {
  if (uri.scheme.empty()) return uri.name;
  return uri.scheme + "://" + uri.folder + "/" + uri.name + "/" + uri.branch;
}

}  // namespace fm
