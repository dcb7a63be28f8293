// `fmserve template`: render a chat template for OpenAI-format messages, printing the prompt and nothing else.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "util/read_file.h"

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace fm::cli {
namespace {


nlohmann::ordered_json read_json_file(const std::string& path) {
  try {
    return nlohmann::ordered_json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("'" + path + "' is not valid JSON: " + e.what());
  }
}

std::string token_name(const nlohmann::ordered_json& config, const char* key) {
  if (!config.contains(key) || config[key].is_null()) return {};
  const auto& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) return v.value("content", "");
  return {};
}

// The template text and BOS/EOS strings of a model: a GGUF file, or a tokenizer_config.json (or a tokenizer.json
// with tokenizer_config.json beside it).
ChatTemplate template_of_model(const std::string& path) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    std::filesystem::path config_path = path;
    if (config_path.filename() != "tokenizer_config.json") config_path = config_path.parent_path() / "tokenizer_config.json";
    const nlohmann::ordered_json config = read_json_file(config_path.string());
    const nlohmann::ordered_json tpl = config.contains("chat_template") ? config["chat_template"] : nlohmann::ordered_json();
    std::string source;
    if (tpl.is_string()) {
      source = tpl.get<std::string>();
    } else if (tpl.is_array()) {
      for (const auto& t : tpl)
        if (t.value("name", "") == "default") source = t.value("template", "");
    }
    if (source.empty()) throw std::invalid_argument("'" + config_path.string() + "' has no chat_template");
    return ChatTemplate(source, token_name(config, "bos_token"), token_name(config, "eos_token"));
  }
  auto file = GgufFile::open(path);
  const std::string source = file->get_string_or("tokenizer.chat_template", "");
  if (source.empty()) throw std::invalid_argument("'" + path + "' has no tokenizer.chat_template");
  const Vocab vocab = Vocab::from_gguf(*file);
  return ChatTemplate(source, vocab.bos() >= 0 ? vocab.text(vocab.bos()) : "", vocab.eos() >= 0 ? vocab.text(vocab.eos()) : "");
}

}  // namespace

int run_template(const TemplateOptions& opt) {
  if (opt.template_file.empty() == opt.model.empty()) throw std::invalid_argument("give exactly one of --template, -m");
  const ChatTemplate tpl = opt.model.empty() ? ChatTemplate(read_file(opt.template_file), opt.bos_token, opt.eos_token)
                                             : template_of_model(opt.model);
  ChatRequest request;
  request.messages = read_json_file(opt.messages);
  if (!request.messages.is_array()) throw std::invalid_argument("--messages must hold a JSON array of messages");
  if (!opt.tools.empty()) request.tools = read_json_file(opt.tools);
  request.add_generation_prompt = opt.add_generation_prompt;
  if (!opt.kwargs.empty()) {
    try {
      request.kwargs = nlohmann::ordered_json::parse(opt.kwargs);
    } catch (const nlohmann::json::exception&) {
      throw std::invalid_argument("--kwargs must be a JSON object");
    }
    if (!request.kwargs.is_object()) throw std::invalid_argument("--kwargs must be a JSON object");
  }
  std::cout << tpl.render(request) << std::flush;
  return 0;
}

}  // namespace fm::cli
