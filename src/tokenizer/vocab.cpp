#include "tokenizer/vocab.h"

#include <cstdio>
#include <stdexcept>

#include "gguf/gguf_file.h"

namespace fm {

Vocab Vocab::from_gguf(const GgufFile& file) {
  Vocab v;
  v.model_ = file.get_string_or("tokenizer.ggml.model", "");
  v.pre_ = file.get_string_or("tokenizer.ggml.pre", "default");
  const GgufValue* tokens = file.find("tokenizer.ggml.tokens");
  if (!tokens || tokens->type != GgufValueType::ARRAY || tokens->as_array().elem_type != GgufValueType::STRING)
    throw GgufError("tokenizer.ggml.tokens is missing or not an array of strings");
  const GgufArray& tok = tokens->as_array();
  if (tok.count == 0 || tok.count > (1u << 24)) throw GgufError("tokenizer.ggml.tokens has an invalid size");
  v.tokens_.reserve(tok.count);
  for (auto s : tok.strings) v.tokens_.emplace_back(s);

  if (const GgufValue* scores = file.find("tokenizer.ggml.scores")) {
    const GgufArray& arr = scores->as_array();
    if (arr.count != tok.count || arr.elem_type != GgufValueType::FLOAT32)
      throw GgufError("tokenizer.ggml.scores must hold one f32 per token");
    v.scores_.resize(arr.count);
    for (uint64_t i = 0; i < arr.count; ++i) v.scores_[i] = static_cast<float>(arr.number(i));
  }
  if (const GgufValue* types = file.find("tokenizer.ggml.token_type")) {
    const GgufArray& arr = types->as_array();
    if (arr.count != tok.count || arr.elem_type != GgufValueType::INT32)
      throw GgufError("tokenizer.ggml.token_type must hold one i32 per token");
    v.kinds_.resize(arr.count);
    for (uint64_t i = 0; i < arr.count; ++i) {
      int64_t k = arr.integer(i);
      v.kinds_[i] = (k >= 0 && k <= 6) ? static_cast<TokenKind>(k) : TokenKind::kUndefined;
    }
  }
  v.build_index();

  auto special_id = [&](const char* key) -> int32_t {
    int64_t id = file.get_int_or(key, -1);
    if (id == 0xFFFFFFFFll) id = -1;  // some converters write u32 -1 for "none"
    if (id < -1 || id >= v.size()) throw GgufError(std::string(key) + " = " + std::to_string(id) + " is not a token id");
    return static_cast<int32_t>(id);
  };
  v.bos_ = special_id("tokenizer.ggml.bos_token_id");
  v.eos_ = special_id("tokenizer.ggml.eos_token_id");
  v.unk_ = special_id("tokenizer.ggml.unknown_token_id");
  v.eot_ = special_id("tokenizer.ggml.eot_token_id");
  if (const GgufValue* merges = file.find("tokenizer.ggml.merges")) {
    const GgufArray& arr = merges->as_array();
    if (arr.elem_type != GgufValueType::STRING) throw GgufError("tokenizer.ggml.merges must be an array of strings");
    v.merges_.reserve(arr.count);
    for (auto m : arr.strings) {
      const size_t space = m.find(' ', 1);  // "left right"; the left piece is never empty (llama.cpp's rule)
      if (space == std::string_view::npos) throw GgufError("tokenizer.ggml.merges entry without a space");
      v.merges_.emplace_back(std::string(m.substr(0, space)), std::string(m.substr(space + 1)));
    }
  }
  const bool spm = v.model_ == "llama";
  if (v.model_ == "bert") {
    // WordPiece (BERT): special tokens frame the text as [CLS] ... [SEP], as llama.cpp and Hugging Face add them.
    const int32_t cls = special_id("tokenizer.ggml.cls_token_id"), sep = special_id("tokenizer.ggml.seperator_token_id");
    if (v.bos_ < 0) v.bos_ = cls;
    if (v.eos_ < 0) v.eos_ = sep;
  }
  v.add_bos_ = file.get_bool_or("tokenizer.ggml.add_bos_token", (spm || v.model_ == "bert") && v.bos_ >= 0);
  v.add_eos_ = file.get_bool_or("tokenizer.ggml.add_eos_token", v.model_ == "bert" && v.eos_ >= 0);
  v.add_space_prefix_ = file.get_bool_or("tokenizer.ggml.add_space_prefix", spm);
  return v;
}

Vocab Vocab::from_parts(Parts parts) {
  Vocab v;
  v.model_ = std::move(parts.model);
  v.pre_ = std::move(parts.pre);
  v.tokens_ = std::move(parts.tokens);
  v.kinds_ = std::move(parts.kinds);
  v.merges_ = std::move(parts.merges);
  if (v.kinds_.size() != v.tokens_.size()) throw std::invalid_argument("vocabulary: one kind per token expected");
  v.build_index();
  auto check = [&](int32_t id) { return id >= -1 && id < v.size() ? id : -1; };
  v.bos_ = check(parts.bos);
  v.eos_ = check(parts.eos);
  v.eot_ = check(parts.eot);
  v.unk_ = check(parts.unk);
  v.add_bos_ = parts.add_bos && v.bos_ >= 0;
  v.add_eos_ = parts.add_eos && v.eos_ >= 0;
  v.add_space_prefix_ = parts.add_space_prefix;
  return v;
}

void Vocab::build_index() {
  index_.clear();
  index_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) index_.emplace(tokens_[i], static_cast<int32_t>(i));
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    byte_tokens_[b] = find(name);
  }
}

int32_t Vocab::find(std::string_view text) const {
  auto it = index_.find(text);
  return it == index_.end() ? -1 : it->second;
}

}  // namespace fm
