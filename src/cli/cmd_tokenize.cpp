// `fmserve tokenize`: text to token ids with a GGUF model's, a Hugging Face tokenizer.json's or a CLIP folder's
// (vocab.json + merges.txt) tokenizer.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "util/read_file.h"

#include "cli/commands.h"
#include "tokenizer/clip_tokenizer.h"
#include "tokenizer/hf_tokenizer.h"

namespace fm::cli {

namespace {
constexpr auto kDump = nlohmann::json::error_handler_t::replace;  // pieces of byte tokens may be partial UTF-8
}  // namespace

namespace {

// A CLIP tokenizer folder (vocab.json + merges.txt, as diffusers lays out Stable Diffusion): ids without BOS/EOS.
int run_clip_tokenize(const TokenizeOptions& opt) {
  const ClipTokenizer tokenizer = ClipTokenizer::from_directory(opt.model);
  if (opt.jsonl.empty()) {
    const std::string text = opt.file.empty() ? opt.text : read_file(opt.file);
    std::cout << nlohmann::json{{"ids", tokenizer.encode(text)}}.dump() << std::endl;
    return 0;
  }
  std::ifstream in(opt.jsonl, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + opt.jsonl + "'");
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    const nlohmann::json value = nlohmann::json::parse(line, nullptr, false);
    if (!value.is_string()) throw std::invalid_argument(opt.jsonl + ":" + std::to_string(line_no) + ": not a JSON string");
    std::cout << nlohmann::json(tokenizer.encode(value.get<std::string>())).dump() << "\n";
  }
  return 0;
}

}  // namespace

int run_tokenize(const TokenizeOptions& opt) {
  const int sources = !opt.text.empty() + !opt.file.empty() + !opt.jsonl.empty();
  if (sources != 1 && !(sources == 0 && opt.text_given))
    throw std::invalid_argument("give exactly one of --text, --file, --jsonl");
  if (std::filesystem::is_directory(opt.model)) return run_clip_tokenize(opt);
  auto tokenizer = load_tokenizer(opt.model);
  if (!opt.jsonl.empty()) {
    std::ifstream in(opt.jsonl, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open '" + opt.jsonl + "'");
    std::string line;
    size_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      nlohmann::json value;
      try {
        value = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        throw std::invalid_argument(opt.jsonl + ":" + std::to_string(line_no) + ": not a JSON string");
      }
      if (!value.is_string()) throw std::invalid_argument(opt.jsonl + ":" + std::to_string(line_no) + ": not a JSON string");
      const std::vector<int32_t> ids = tokenizer->encode(value.get<std::string>(), opt.special, opt.special);
      if (!opt.with_text) {
        std::cout << nlohmann::json(ids).dump() << "\n";
        continue;
      }
      std::string text;
      for (int32_t id : ids) text += tokenizer->token_to_piece(id, opt.special);
      std::cout << nlohmann::json{{"ids", ids}, {"text", text}}.dump(-1, ' ', false, kDump) << "\n";
    }
    return 0;
  }
  const std::string text = opt.file.empty() ? opt.text : read_file(opt.file);
  nlohmann::json tokens = nlohmann::json::array();
  for (int32_t id : tokenizer->encode(text, opt.special, opt.special)) {
    const TokenKind kind = tokenizer->vocab().kind(id);
    tokens.push_back({{"id", id},
                      {"text", tokenizer->token_to_piece(id, true)},
                      {"special", kind == TokenKind::kControl || kind == TokenKind::kUnknown}});
  }
  std::cout << nlohmann::json{{"tokens", tokens}}.dump(-1, ' ', false, kDump) << std::endl;
  return 0;
}

}  // namespace fm::cli
