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
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  struct Merge {
    int32_t rank;
    int32_t result;  // token id of the merged piece
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }

  // Open-addressing hash map (left id, right id) -> merge: the hottest lookup of encoding.
  class MergeTable {
   public:
    void build(const std::vector<std::pair<uint64_t, Merge>>& entries);
    const Merge* find(uint64_t key) const;

   private:
    std::vector<uint64_t> keys_;  // kEmpty marks a free slot
    std::vector<Merge> values_;
    uint64_t mask_ = 0;
  };

  BpeOptions options_;
  PreTokenizer pre_;
  MergeTable merges_;
  uint64_t cache_generation_;                   // identifies this tokenizer in the per-thread word cache
  int32_t byte_level_ids_[256];                 // byte-level: token of each byte's printable code point
};

}  // namespace fm
