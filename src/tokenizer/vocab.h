#pragma once
// Token vocabulary read from a GGUF file's tokenizer.ggml.* metadata.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fm {

class GgufFile;

// GGUF token types (tokenizer.ggml.token_type).
enum class TokenKind : int32_t { kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

class Vocab {
 public:
  static Vocab from_gguf(const GgufFile& file);  // throws GgufError on missing or inconsistent keys

  // A vocabulary assembled from another source (Hugging Face tokenizer.json). Ids index the vectors.
  struct Parts {
    std::string model;  // "gpt2" (BPE), "llama", "bert"
    std::string pre;
    std::vector<std::string> tokens;
    std::vector<TokenKind> kinds;
    std::vector<std::pair<std::string, std::string>> merges;
    int32_t bos = -1, eos = -1, eot = -1, unk = -1;
    bool add_bos = false, add_eos = false, add_space_prefix = false;
  };
  static Vocab from_parts(Parts parts);
  Vocab(Vocab&&) = default;
  Vocab& operator=(Vocab&&) = default;
  Vocab(const Vocab&) = delete;  // index_ holds views into tokens_

  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  const std::string& text(int32_t id) const { return tokens_.at(static_cast<size_t>(id)); }
  float score(int32_t id) const { return scores_.empty() ? 0.f : scores_[static_cast<size_t>(id)]; }
  TokenKind kind(int32_t id) const {
    return kinds_.empty() ? TokenKind::kNormal : kinds_[static_cast<size_t>(id)];
  }
  // -1 when the text is not a token.
  int32_t find(std::string_view text) const;
  // The <0xXX> byte-fallback token for a byte, or -1.
  int32_t byte_token(uint8_t byte) const { return byte_tokens_[byte]; }

  const std::string& model() const { return model_; }  // tokenizer.ggml.model: "llama", "gpt2", ...
  const std::string& pre() const { return pre_; }      // tokenizer.ggml.pre: pre-tokenizer name
  // BPE merges by rank: (left, right) pieces.
  const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }
  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  int32_t eot() const { return eot_; }  // end of turn (chat models), -1 if none
  int32_t unk() const { return unk_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }

 private:
  Vocab() = default;
  void build_index();  // the text -> id map and the byte-fallback tokens, after tokens_ is set
  std::string model_;
  std::string pre_;
  std::vector<std::pair<std::string, std::string>> merges_;
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<TokenKind> kinds_;
  std::unordered_map<std::string_view, int32_t> index_;  // views into tokens_
  int32_t byte_tokens_[256];
  int32_t bos_ = -1, eos_ = -1, eot_ = -1, unk_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = true;
};

}  // namespace fm
