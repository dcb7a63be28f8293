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
  return hp;
}

}  // namespace fm
