#include "tokenizer/hf_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "gguf/gguf_file.h"
#include "tokenizer/bpe_tokenizer.h"

namespace fm {
namespace {

using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error("'" + path + "' is not valid JSON: " + e.what());
  }
}

std::string escape_regex(const std::string& literal) {
  std::string out;
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// A token name from tokenizer_config.json: a string, an AddedToken object, or null.
std::string token_name(const json& config, const char* key) {
  if (!config.contains(key) || config[key].is_null()) return {};
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content")) return v["content"].get<std::string>();
  return {};
}

void add_pre_tokenizer(const json& p, BpeOptions& o, bool& byte_level) {
  if (p.is_null()) return;
  const std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const json& step : p.at("pretokenizers")) add_pre_tokenizer(step, o, byte_level);
  } else if (type == "ByteLevel") {
    byte_level = true;
    o.add_prefix_space = p.value("add_prefix_space", false);
    if (p.value("use_regex", true))
      o.pre_tokenizer.push_back({"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"});
  } else if (type == "Split") {
    if (p.value("invert", false)) throw std::runtime_error("tokenizer.json: inverted Split is not supported yet");
    const json& pattern = p.at("pattern");
    PreTokenizer::Step step;
    if (pattern.contains("Regex")) step.pattern = pattern["Regex"].get<std::string>();
    else step.pattern = escape_regex(pattern.at("String").get<std::string>());
    const std::string behavior = p.value("behavior", "Isolated");
    if (behavior == "Isolated") step.behavior = PreTokenizer::Behavior::kIsolated;
    else if (behavior == "MergedWithPrevious") step.behavior = PreTokenizer::Behavior::kMergedWithPrevious;
    else if (behavior == "MergedWithNext") step.behavior = PreTokenizer::Behavior::kMergedWithNext;
    else if (behavior == "Removed") step.behavior = PreTokenizer::Behavior::kRemoved;
    else throw std::runtime_error("tokenizer.json: Split behavior '" + behavior + "' is not supported yet");
    o.pre_tokenizer.push_back(step);
  } else if (type == "Digits") {
    o.pre_tokenizer.push_back({p.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+"});
  } else {
    throw std::runtime_error("tokenizer.json: pre-tokenizer '" + type + "' is not supported yet");
  }
}

void set_normalizer(const json& n, BpeOptions& o) {
  if (n.is_null()) return;
  const std::string type = n.value("type", "");
  if (type == "NFC") {
    o.normalizer = BpeOptions::Normalizer::kNfc;
  } else if (type == "Replace" && n.at("pattern").value("String", "") == " " && n.value("content", "") == "\xE2\x96\x81") {
    o.normalizer = BpeOptions::Normalizer::kSpaceToMarker;
  } else {
    throw std::runtime_error("tokenizer.json: normalizer '" + n.dump().substr(0, 80) + "' is not supported yet");
  }
}

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& path) {
  const json tj = read_json(path);
  const std::filesystem::path config_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  const json config = std::filesystem::exists(config_path) ? read_json(config_path.string()) : json::object();
  try {
    const json& model = tj.at("model");
    const std::string type = model.value("type", "BPE");
    if (type != "BPE") throw std::runtime_error("tokenizer.json: model type '" + type + "' is not supported yet");

    Vocab::Parts parts;
    parts.model = "gpt2";
    parts.pre = "hf";
    std::vector<std::pair<std::string, int64_t>> entries;
    int64_t max_id = -1;
    for (const auto& [text, id] : model.at("vocab").items()) {
      entries.emplace_back(text, id.get<int64_t>());
      max_id = std::max(max_id, id.get<int64_t>());
    }
    const json added = tj.value("added_tokens", json::array());
    for (const json& a : added) max_id = std::max(max_id, a.at("id").get<int64_t>());
    if (max_id < 0 || max_id >= (1 << 24)) throw std::runtime_error("tokenizer.json: vocabulary ids out of range");
    parts.tokens.assign(static_cast<size_t>(max_id + 1), std::string());
    parts.kinds.assign(parts.tokens.size(), TokenKind::kUnused);
    const bool byte_fallback = model.value("byte_fallback", false);
    for (auto& [text, id] : entries) {
      if (id < 0) throw std::runtime_error("tokenizer.json: negative token id");
      const bool is_byte = byte_fallback && text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>';
      parts.kinds[static_cast<size_t>(id)] = is_byte ? TokenKind::kByte : TokenKind::kNormal;
      parts.tokens[static_cast<size_t>(id)] = std::move(text);
    }
    for (const json& a : added) {
      const size_t id = a.at("id").get<size_t>();
      parts.tokens[id] = a.at("content").get<std::string>();
      parts.kinds[id] = a.value("special", false) ? TokenKind::kControl : TokenKind::kUserDefined;
    }
    for (const json& m : model.at("merges")) {
      if (m.is_string()) {
        const std::string text = m.get<std::string>();
        const size_t space = text.find(' ', 1);
        if (space == std::string::npos) throw std::runtime_error("tokenizer.json: merge '" + text + "' has no space");
        parts.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
      } else {
        parts.merges.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
      }
    }
    auto id_of = [&](const std::string& text) -> int32_t {
      if (text.empty()) return -1;
      for (size_t i = 0; i < parts.tokens.size(); ++i)
        if (parts.tokens[i] == text && parts.kinds[i] != TokenKind::kUnused) return static_cast<int32_t>(i);
      return -1;
    };
    const json unk = model.value("unk_token", json());
    if (unk.is_string()) {
      parts.unk = id_of(unk.get<std::string>());
      if (parts.unk >= 0) parts.kinds[static_cast<size_t>(parts.unk)] = TokenKind::kUnknown;
    }
    parts.bos = id_of(token_name(config, "bos_token"));
    parts.eos = id_of(token_name(config, "eos_token"));

    // BOS/EOS come from the post-processor template: special tokens before / after the sequence.
    const json& post = tj.value("post_processor", json());
    if (post.is_object() && post.value("type", "") == "TemplateProcessing") {
      bool seen_sequence = false;
      for (const json& item : post.at("single")) {
        if (item.contains("Sequence")) {
          seen_sequence = true;
        } else if (item.contains("SpecialToken")) {
          const int32_t id = id_of(item["SpecialToken"].at("id").get<std::string>());
          if (!seen_sequence) parts.bos = id, parts.add_bos = id >= 0;
          else parts.eos = id, parts.add_eos = id >= 0;
        }
      }
    }

    BpeOptions options;
    bool byte_level = false;
    set_normalizer(tj.value("normalizer", json()), options);
    add_pre_tokenizer(tj.value("pre_tokenizer", json()), options, byte_level);
    const json& decoder = tj.value("decoder", json());
    if (decoder.is_object() && decoder.value("type", "") == "ByteLevel") byte_level = true;
    options.byte_level = byte_level;
    options.ignore_merges = model.value("ignore_merges", false);
    options.byte_fallback = byte_fallback;
    options.fuse_unk = model.value("fuse_unk", false);
    return std::make_unique<BpeTokenizer>(Vocab::from_parts(std::move(parts)), std::move(options));
  } catch (const json::exception& e) {
    throw std::runtime_error("'" + path + "': unexpected tokenizer.json structure: " + e.what());
  }
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) return load_hf_tokenizer(path);
  auto file = GgufFile::open(path);
  return make_tokenizer(*file);
}

}  // namespace fm
