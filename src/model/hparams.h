#pragma once
// Hyper-parameters shared by the decoder-only families, read from `<arch>.*` GGUF metadata.
#include <cstdint>
#include <string>

namespace fm {

class GgufFile;

enum class RopeLayout {
  kAdjacentPairs,  // llama.cpp "NORM": rotate (2i, 2i+1)
  kHalfSplit,      // llama.cpp "NEOX": rotate (i, i + n_rot/2)
};

// Context-extension scaling of RoPE frequencies (from <arch>.rope.scaling.*).
struct RopeScaling {
  enum class Kind { kNone, kLinear, kYarn } kind = Kind::kNone;
  float factor = 1.f;              // context multiplier; frequencies are divided by it
  int64_t original_context = 0;    // training context before extension (YaRN)
  float beta_fast = 32.f, beta_slow = 1.f;
};

struct HParams {
  std::string arch;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;    // key/query width per head (attention.key_length, else n_embd / n_head)
  int64_t head_dim_v = 0;  // value width per head
  int64_t n_ff = 0;
  int64_t n_ctx_train = 0;
  int64_t n_rot = 0;       // rotated dimensions per head
  float rms_eps = 1e-5f;
  float rope_base = 10000.f;
  RopeLayout rope_layout = RopeLayout::kAdjacentPairs;
  RopeScaling rope_scaling;
  // Mixture of experts (0 when dense).
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_ff_exp = 0;

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
  int64_t v_dim() const { return n_head_kv * head_dim_v; }
};

// Reads the keys every family uses; throws GgufError on missing or inconsistent values.
HParams read_hparams(const GgufFile& file, const std::string& arch, RopeLayout rope_layout);

}  // namespace fm
