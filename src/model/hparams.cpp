#include "model/hparams.h"

#include "gguf/gguf_file.h"

namespace fm {

HParams read_hparams(const GgufFile& file, const std::string& arch, RopeLayout rope_layout) {
  auto key = [&](const char* suffix) { return arch + "." + suffix; };
  HParams hp;
  hp.arch = arch;
  hp.rope_layout = rope_layout;
  hp.n_embd = file.get_int(key("embedding_length"));
  hp.n_layer = file.get_int(key("block_count"));
  hp.n_head = file.get_int(key("attention.head_count"));
  hp.n_head_kv = file.get_int_or(key("attention.head_count_kv"), hp.n_head);
  hp.n_ff = file.get_int(key("feed_forward_length"));
  hp.n_ctx_train = file.get_int_or(key("context_length"), 2048);
  hp.rms_eps = static_cast<float>(file.get_float_or(key("attention.layer_norm_rms_epsilon"), 1e-5));
  hp.rope_base = static_cast<float>(file.get_float_or(key("rope.freq_base"), 10000.0));

  auto positive = [&](int64_t v, const char* what, int64_t max) {
    if (v <= 0 || v > max) throw GgufError(arch + ": " + what + " = " + std::to_string(v) + " is out of range");
  };
  positive(hp.n_embd, "embedding_length", 1 << 20);
  positive(hp.n_layer, "block_count", 4096);
  positive(hp.n_head, "attention.head_count", 4096);
  positive(hp.n_head_kv, "attention.head_count_kv", 4096);
  positive(hp.n_ff, "feed_forward_length", 1 << 22);
  positive(hp.n_ctx_train, "context_length", 1 << 24);
  if (hp.n_head % hp.n_head_kv != 0) throw GgufError(arch + ": head_count is not a multiple of head_count_kv");
  if (!(hp.rms_eps > 0) || !(hp.rope_base > 0)) throw GgufError(arch + ": epsilon and rope base must be positive");

  const int64_t default_head = hp.n_embd % hp.n_head == 0 ? hp.n_embd / hp.n_head : 0;
  hp.head_dim = file.get_int_or(key("attention.key_length"), default_head);
  hp.head_dim_v = file.get_int_or(key("attention.value_length"), hp.head_dim);
  positive(hp.head_dim, "attention.key_length", 1 << 14);
  positive(hp.head_dim_v, "attention.value_length", 1 << 14);
  hp.n_rot = file.get_int_or(key("rope.dimension_count"), hp.head_dim);
  if (hp.n_rot <= 0 || hp.n_rot > hp.head_dim || hp.n_rot % 2 != 0)
    throw GgufError(arch + ": rope.dimension_count = " + std::to_string(hp.n_rot) + " is invalid");
  hp.n_expert = file.get_int_or(key("expert_count"), 0);
  hp.n_expert_used = file.get_int_or(key("expert_used_count"), 0);
  hp.n_ff_exp = file.get_int_or(key("expert_feed_forward_length"), hp.n_ff);
  if (hp.n_expert < 0 || hp.n_expert > 4096 || hp.n_expert_used < 0 || hp.n_expert_used > hp.n_expert ||
      (hp.n_expert > 0 && hp.n_expert_used == 0))
    throw GgufError(arch + ": expert_count / expert_used_count are inconsistent");
  if (hp.n_expert > 0) positive(hp.n_ff_exp, "expert_feed_forward_length", 1 << 22);

  const std::string scaling = file.get_string_or(key("rope.scaling.type"), "none");
  const double factor = file.get_float_or(key("rope.scaling.factor"), file.get_float_or(key("rope.scale_linear"), 1.0));
  if (scaling == "linear" || (scaling == "none" && factor != 1.0)) hp.rope_scaling.kind = RopeScaling::Kind::kLinear;
  else if (scaling == "yarn") hp.rope_scaling.kind = RopeScaling::Kind::kYarn;
  else if (scaling != "none") throw GgufError(arch + ": rope scaling '" + scaling + "' is not supported");
  if (hp.rope_scaling.kind != RopeScaling::Kind::kNone) {
    if (!(factor >= 1.0 && factor <= 1024.0)) throw GgufError(arch + ": rope.scaling.factor is out of range");
    hp.rope_scaling.factor = static_cast<float>(factor);
    hp.rope_scaling.original_context = file.get_int_or(key("rope.scaling.original_context_length"), hp.n_ctx_train);
    positive(hp.rope_scaling.original_context, "rope.scaling.original_context_length", 1 << 24);
  }
  return hp;
}

}  // namespace fm
