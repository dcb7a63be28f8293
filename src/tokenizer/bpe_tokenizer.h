#pragma once
// BPE by merge rank (lowest first), as GPT-2 / Hugging Face `BPE` models: optional normalisation, pre-tokenization
// into words, byte-level mapping (GPT-2 style: Llama 3, Qwen2/3, DeepSeek, ...) or byte fallback for symbols
// missing from the vocabulary (SentencePiece-derived BPE such as Gemma 3's tokenizer.json).
#include <string>
#include <unordered_map>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace fm {

struct BpeOptions {
  enum class Normalizer { kNone, kNfc, kSpaceToMarker };  // kSpaceToMarker: ' ' -> U+2581
  Normalizer normalizer = Normalizer::kNone;
  std::vector<PreTokenizer::Step> pre_tokenizer;  // empty: the whole text is one word
  bool byte_level = true;       // map bytes to GPT-2's printable code points before merging
  bool add_prefix_space = false;  // byte-level: prepend a space to text not starting with one
  bool ignore_merges = false;   // a word that is itself a token is emitted without merging (Llama 3)
  bool byte_fallback = false;   // symbols missing from the vocabulary become <0xXX> tokens
  bool fuse_unk = false;        // consecutive unknown symbols become one <unk>

  // The configuration llama.cpp uses for a GGUF `gpt2` vocabulary with this tokenizer.ggml.pre.
  static BpeOptions for_gguf_pre(const std::string& pre);
};

class BpeTokenizer : public Tokenizer {
 public:
  BpeTokenizer(Vocab vocab, BpeOptions options);

 protected:
  void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;
  std::string normal_piece(int32_t id) const override;
  std::string user_defined_piece(int32_t id) const override;

 private:
  void encode_word(const std::string& word, std::vector<int32_t>& out) const;
  int merge_rank(std::string_view left, std::string_view right) const;

  BpeOptions options_;
  PreTokenizer pre_;
  std::unordered_map<std::string, int> ranks_;  // "left right" -> rank
};

}  // namespace fm
