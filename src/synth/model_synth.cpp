#include "synth/model_synth.h"

#include <memory>

#include "gguf/gguf_file.h"

#include <cmath>
#include <stdexcept>

#include "gguf/gguf_writer.h"
#include "synth/synth_random.h"
#include "tensor/kernels/kernel_table.h"
#include "tokenizer/unicode.h"

namespace fm {
namespace {

struct Shape {
  const char* name;
  const char* arch;
  int64_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx;
  double rope_base, rms_eps;
  bool biases, qk_norm, post_norms, rope_freqs;
  int64_t sliding_window;
  const char* pre;  // tokenizer.ggml.pre
  bool encoder = false;  // a BERT encoder (llama.cpp's `bert` layout, WordPiece vocabulary)
};

// Hyper-parameters of the real models (their config.json / GGUF metadata).
constexpr Shape kShapes[] = {
    {"qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 64, 4864, 151936, 32768, 1e6, 1e-6, true, false, false, false, 0, "qwen2"},
    {"qwen2.5-1.5b", "qwen2", 1536, 28, 12, 2, 128, 8960, 151936, 32768, 1e6, 1e-6, true, false, false, false, 0, "qwen2"},
    {"qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 128, 3072, 151936, 40960, 1e6, 1e-6, false, true, false, false, 0, "qwen2"},
    {"llama-3.2-1b", "llama", 2048, 16, 32, 8, 64, 8192, 128256, 131072, 5e5, 1e-5, false, false, false, true, 0, "llama-bpe"},
    {"gemma3-1b", "gemma3", 1152, 26, 4, 1, 256, 6912, 262144, 32768, 1e6, 1e-6, false, true, true, false, 512, "default"},
    // BAAI/bge-small-en-v1.5: a BERT encoder, 12 layers of width 384.
    {"bge-small", "bert", 384, 12, 12, 12, 32, 1536, 30522, 512, 1e4, 1e-12, true, false, false, false, 0, "bert-bge", true},
    // Tiny shapes for tests: every feature, seconds to write and load.
    {"tiny-qwen3", "qwen3", 64, 2, 4, 2, 16, 128, 512, 2048, 1e6, 1e-6, false, true, false, false, 0, "qwen2"},
    {"tiny-bert", "bert", 64, 2, 4, 4, 16, 128, 1024, 512, 1e4, 1e-12, true, false, false, false, 0, "bert-bge", true},
};

const Shape& find_shape(const std::string& name) {
  for (const Shape& s : kShapes)
    if (name == s.name) return s;
  throw std::invalid_argument("unknown shape '" + name + "'");
}

// llama.cpp's "use more bits" layers for attn_v / ffn_down in the _M mixtures.
bool more_bits(int64_t layer, int64_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

// The type llama-quantize gives a weight matrix, with the legacy fallbacks for rows not divisible by 256.
TensorType matrix_type(const std::string& ftype, const std::string& name, int64_t ne0, int64_t layer, int64_t n_layer) {
  const bool output = name == "token_embd.weight" || name == "output.weight";  // tied: the embedding is the output
  TensorType t;
  if (ftype == "F16") t = TensorType::F16;
  else if (ftype == "Q8_0") t = TensorType::Q8_0;
  else if (ftype == "Q4_0") t = output ? TensorType::Q6_K : TensorType::Q4_0;
  else if (ftype == "Q6_K") t = TensorType::Q6_K;
  else if (ftype == "Q4_K_M") {
    const bool v_or_down = name.find("attn_v") != std::string::npos || name.find("ffn_down") != std::string::npos;
    t = output || (v_or_down && more_bits(layer, n_layer)) ? TensorType::Q6_K : TensorType::Q4_K;
  } else {
    throw std::invalid_argument("unknown type '" + ftype + "' (F16, Q8_0, Q4_0, Q4_K_M, Q6_K)");
  }
  if (ne0 % 256 != 0) {
    if (t == TensorType::Q4_K) t = TensorType::Q5_0;
    if (t == TensorType::Q6_K) t = TensorType::Q8_0;
  }
  return t;
}

uint32_t file_type_id(const std::string& ftype) {
  if (ftype == "F16") return 1;
  if (ftype == "Q4_0") return 2;
  if (ftype == "Q8_0") return 7;
  if (ftype == "Q4_K_M") return 15;
  return 18;  // Q6_K
}


}  // namespace

std::vector<std::string> synth_shapes() {
  std::vector<std::string> out;
  for (const Shape& s : kShapes) out.emplace_back(s.name);
  for (const std::string& p : projector_shapes()) out.push_back(p);
  return out;
}
std::vector<std::string> synth_types() { return {"F16", "Q8_0", "Q4_0", "Q4_K_M", "Q6_K"}; }

namespace {

// The tokenizer.* keys of `from`, as they are.
void copy_tokenizer(const GgufFile& from, GgufWriter& w) {
  for (const auto& [key, v] : from.metadata()) {
    if (key.rfind("tokenizer.", 0) != 0) continue;
    switch (v.type) {
      case GgufValueType::STRING: w.set(key, GgufWriteValue::string(v.as_string())); break;
      case GgufValueType::BOOL: w.set(key, GgufWriteValue::boolean(v.as_bool())); break;
      case GgufValueType::FLOAT32: w.set(key, GgufWriteValue::f32(static_cast<float>(v.as_double()))); break;
      case GgufValueType::INT32: w.set(key, GgufWriteValue::i32(static_cast<int32_t>(v.as_int()))); break;
      case GgufValueType::UINT32:
      case GgufValueType::UINT8:
      case GgufValueType::UINT16: w.set(key, GgufWriteValue::u32(static_cast<uint32_t>(v.as_int()))); break;
      case GgufValueType::UINT64: w.set(key, GgufWriteValue::u64(static_cast<uint64_t>(v.as_int()))); break;
      case GgufValueType::ARRAY: {
        const GgufArray& a = v.as_array();
        if (a.elem_type == GgufValueType::STRING) {
          w.set(key, GgufWriteValue::strings(std::vector<std::string>(a.strings.begin(), a.strings.end())));
        } else if (a.elem_type == GgufValueType::FLOAT32) {
          std::vector<float> f;
          for (uint64_t i = 0; i < a.count; ++i) f.push_back(static_cast<float>(a.number(i)));
          w.set(key, GgufWriteValue::f32s(f));
        } else if (a.elem_type == GgufValueType::INT32) {
          std::vector<int32_t> n;
          for (uint64_t i = 0; i < a.count; ++i) n.push_back(static_cast<int32_t>(a.integer(i)));
          w.set(key, GgufWriteValue::i32s(n));
        }
        break;
      }
      default: break;
    }
  }
}

}  // namespace

void synthesize_model(const SynthRequest& req) {
  for (const std::string& p : projector_shapes())
    if (p == req.shape) return synthesize_projector(req);
  const Shape& sh = find_shape(req.shape);
  if (!req.arch.empty() && req.arch != sh.arch)
    throw std::invalid_argument("shape '" + req.shape + "' is a " + sh.arch + " model, not " + req.arch);
  matrix_type(req.type, "x", 256, 0, 1);  // validates the type name
  const std::string a = sh.arch;
  std::unique_ptr<GgufFile> vocab_file;
  int64_t V = sh.n_vocab;
  if (!req.vocab.empty()) {
    if (sh.encoder) throw std::invalid_argument("--vocab is for decoder shapes");
    vocab_file = GgufFile::open(req.vocab);
    const GgufValue* tokens = vocab_file->find("tokenizer.ggml.tokens");
    if (!tokens) throw std::invalid_argument(req.vocab + " has no tokenizer.ggml.tokens");
    V = static_cast<int64_t>(tokens->as_array().count);
  }
  const int64_t E = sh.n_embd, F = sh.n_ff, q_dim = sh.n_head * sh.head_dim, kv_dim = sh.n_head_kv * sh.head_dim;

  GgufWriter w;
  w.set("general.architecture", GgufWriteValue::string(a));
  w.set("general.name", GgufWriteValue::string("synthetic-" + req.shape + "-" + req.type));
  w.set("general.file_type", GgufWriteValue::u32(file_type_id(req.type)));
  w.set("general.quantization_version", GgufWriteValue::u32(2));
  w.set(a + ".context_length", GgufWriteValue::u32(static_cast<uint32_t>(sh.n_ctx)));
  w.set(a + ".embedding_length", GgufWriteValue::u32(static_cast<uint32_t>(E)));
  w.set(a + ".block_count", GgufWriteValue::u32(static_cast<uint32_t>(sh.n_layer)));
  w.set(a + ".feed_forward_length", GgufWriteValue::u32(static_cast<uint32_t>(F)));
  w.set(a + ".attention.head_count", GgufWriteValue::u32(static_cast<uint32_t>(sh.n_head)));
  w.set(a + ".attention.head_count_kv", GgufWriteValue::u32(static_cast<uint32_t>(sh.n_head_kv)));
  w.set(a + ".attention.key_length", GgufWriteValue::u32(static_cast<uint32_t>(sh.head_dim)));
  w.set(a + ".attention.value_length", GgufWriteValue::u32(static_cast<uint32_t>(sh.head_dim)));
  w.set(a + ".rope.dimension_count", GgufWriteValue::u32(static_cast<uint32_t>(sh.head_dim)));
  w.set(a + ".rope.freq_base", GgufWriteValue::f32(static_cast<float>(sh.rope_base)));
  w.set(a + ".attention.layer_norm_rms_epsilon", GgufWriteValue::f32(static_cast<float>(sh.rms_eps)));
  if (sh.sliding_window) w.set(a + ".attention.sliding_window", GgufWriteValue::u32(static_cast<uint32_t>(sh.sliding_window)));

  if (sh.encoder) {
    w.set(a + ".attention.layer_norm_epsilon", GgufWriteValue::f32(static_cast<float>(sh.rms_eps)));
    w.set(a + ".attention.causal", GgufWriteValue::boolean(false));
    w.set(a + ".pooling_type", GgufWriteValue::u32(2));  // CLS, as bge
    // A WordPiece vocabulary of the real size: the special tokens at BERT's ids, then placeholder words.
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    for (int64_t i = 0; i < V; ++i) {
      tokens.push_back(i == 0 ? "[PAD]" : i == 100 ? "[UNK]" : i == 101 ? "[CLS]" : i == 102 ? "[SEP]" : i == 103 ? "[MASK]"
                                                                                                     : std::string("w").append(std::to_string(i)));
      types.push_back(i == 0 || (i >= 100 && i <= 103) ? 3 : 1);
    }
    w.set("tokenizer.ggml.model", GgufWriteValue::string("bert"));
    w.set("tokenizer.ggml.pre", GgufWriteValue::string(sh.pre));
    w.set("tokenizer.ggml.tokens", GgufWriteValue::strings(tokens));
    w.set("tokenizer.ggml.token_type", GgufWriteValue::i32s(types));
    w.set("tokenizer.ggml.token_type_count", GgufWriteValue::u32(2));
    w.set("tokenizer.ggml.unknown_token_id", GgufWriteValue::u32(100));
    w.set("tokenizer.ggml.cls_token_id", GgufWriteValue::u32(101));
    w.set("tokenizer.ggml.seperator_token_id", GgufWriteValue::u32(102));
    w.set("tokenizer.ggml.padding_token_id", GgufWriteValue::u32(0));
  } else if (vocab_file) {
    copy_tokenizer(*vocab_file, w);
  } else {
    // A byte-level BPE vocabulary of the real size: the 256 byte symbols, then placeholder tokens.
    std::vector<std::string> tokens;
    tokens.reserve(static_cast<size_t>(V));
    for (int b = 0; b < 256; ++b) {
      std::string t;
      utf8_append(t, byte_to_unicode(static_cast<uint8_t>(b)));
      tokens.push_back(t);
    }
    while (static_cast<int64_t>(tokens.size()) < V) tokens.push_back("<|synth_" + std::to_string(tokens.size()) + "|>");
    w.set("tokenizer.ggml.model", GgufWriteValue::string("gpt2"));
    w.set("tokenizer.ggml.pre", GgufWriteValue::string(sh.pre));
    w.set("tokenizer.ggml.tokens", GgufWriteValue::strings(tokens));
    w.set("tokenizer.ggml.token_type", GgufWriteValue::i32s(std::vector<int32_t>(static_cast<size_t>(V), 1)));
    w.set("tokenizer.ggml.merges", GgufWriteValue::strings({}));
    w.set("tokenizer.ggml.bos_token_id", GgufWriteValue::u32(static_cast<uint32_t>(V - 2)));
    w.set("tokenizer.ggml.eos_token_id", GgufWriteValue::u32(static_cast<uint32_t>(V - 1)));
  }
  if (!req.pooling.empty()) {
    const uint32_t type = req.pooling == "mean" ? 1 : req.pooling == "cls" ? 2 : req.pooling == "last" ? 3 : 0;
    if (type == 0) throw std::invalid_argument("pooling must be mean, cls or last");
    w.set(a + ".pooling_type", GgufWriteValue::u32(type));
  }
  if (!req.classifier_labels.empty()) {
    w.set(a + ".classifier.output_labels", GgufWriteValue::strings(req.classifier_labels));
    w.set(a + ".classifier.multi_label", GgufWriteValue::boolean(req.multi_label));
  }

  uint64_t tensor_seed = req.seed;
  // A matrix [rows, cols] of uniform values in [-scale, scale], quantized row by row while the file is written.
  auto matrix = [&](const std::string& name, int64_t cols, int64_t rows, float scale, int64_t layer) {
    const TensorType type = matrix_type(req.type, name, cols, layer, sh.n_layer);
    const uint64_t seed = ++tensor_seed;
    w.add_tensor(name, type, {cols, rows}, [=](uint8_t* dst) {
      Rng rng(seed);
      std::vector<float> row(static_cast<size_t>(cols));
      const QuantizeRowFn quantize = scalar_kernels().quantize_fn(type);
      const size_t row_bytes = tensor_row_bytes(type, cols);
      for (int64_t r = 0; r < rows; ++r) {
        for (auto& v : row) v = scale * rng.uniform();
        quantize(row.data(), dst + static_cast<size_t>(r) * row_bytes, cols);
      }
    });
  };
  auto vector = [&](const std::string& name, int64_t n, float base, float jitter) {
    const uint64_t seed = ++tensor_seed;
    w.add_tensor(name, TensorType::F32, {n}, [=](uint8_t* dst) {
      Rng rng(seed);
      float* f = reinterpret_cast<float*>(dst);
      for (int64_t i = 0; i < n; ++i) f[i] = base + jitter * rng.uniform();
    });
  };

  if (!req.classifier_labels.empty()) {
    const int64_t n_labels = static_cast<int64_t>(req.classifier_labels.size());
    const uint64_t seed = ++tensor_seed;
    w.add_tensor("cls.output.weight", TensorType::F32, {E, n_labels}, [=](uint8_t* dst) {
      Rng rng(seed);
      float* f = reinterpret_cast<float*>(dst);
      for (int64_t i = 0; i < E * n_labels; ++i) f[i] = 0.5f * rng.uniform();
    });
    vector("cls.output.bias", n_labels, 0.f, 0.1f);
  }
  if (sh.encoder) {
    // llama.cpp's `bert` layout: learned positions and token types, post-norm blocks with biases everywhere.
    auto f32_matrix = [&](const std::string& name, int64_t cols, int64_t rows, float scale) {
      const uint64_t seed = ++tensor_seed;
      w.add_tensor(name, TensorType::F32, {cols, rows}, [=](uint8_t* dst) {
        Rng rng(seed);
        float* f = reinterpret_cast<float*>(dst);
        for (int64_t i = 0; i < cols * rows; ++i) f[i] = scale * rng.uniform();
      });
    };
    matrix("token_embd.weight", E, V, 0.02f, 0);
    f32_matrix("token_types.weight", E, 2, 0.02f);
    f32_matrix("position_embd.weight", E, sh.n_ctx, 0.02f);
    vector("token_embd_norm.weight", E, 1.f, 0.1f);
    vector("token_embd_norm.bias", E, 0.f, 0.05f);
    for (int64_t l = 0; l < sh.n_layer; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      for (const char* t : {"attn_q", "attn_k", "attn_v", "attn_output"}) {
        matrix(p + t + ".weight", E, E, 0.08f, l);
        vector(p + t + ".bias", E, 0.f, 0.05f);
      }
      vector(p + "attn_output_norm.weight", E, 1.f, 0.1f);
      vector(p + "attn_output_norm.bias", E, 0.f, 0.05f);
      matrix(p + "ffn_up.weight", E, F, 0.08f, l);
      vector(p + "ffn_up.bias", F, 0.f, 0.05f);
      matrix(p + "ffn_down.weight", F, E, 0.08f, l);
      vector(p + "ffn_down.bias", E, 0.f, 0.05f);
      vector(p + "layer_output_norm.weight", E, 1.f, 0.1f);
      vector(p + "layer_output_norm.bias", E, 0.f, 0.05f);
    }
    w.write_file(req.output);
    return;
  }
  matrix("token_embd.weight", E, V, 0.02f, 0);
  vector("output_norm.weight", E, 1.f, 0.1f);
  if (sh.rope_freqs) vector("rope_freqs.weight", sh.head_dim / 2, 1.f, 0.f);
  for (int64_t l = 0; l < sh.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    vector(p + "attn_norm.weight", E, 1.f, 0.1f);
    matrix(p + "attn_q.weight", E, q_dim, 0.05f, l);
    matrix(p + "attn_k.weight", E, kv_dim, 0.05f, l);
    matrix(p + "attn_v.weight", E, kv_dim, 0.05f, l);
    matrix(p + "attn_output.weight", q_dim, E, 0.05f, l);
    if (sh.biases) {
      vector(p + "attn_q.bias", q_dim, 0.f, 0.05f);
      vector(p + "attn_k.bias", kv_dim, 0.f, 0.05f);
      vector(p + "attn_v.bias", kv_dim, 0.f, 0.05f);
    }
    if (sh.qk_norm) {
      vector(p + "attn_q_norm.weight", sh.head_dim, 1.f, 0.1f);
      vector(p + "attn_k_norm.weight", sh.head_dim, 1.f, 0.1f);
    }
    if (sh.post_norms) {
      vector(p + "post_attention_norm.weight", E, 1.f, 0.1f);
      vector(p + "post_ffw_norm.weight", E, 1.f, 0.1f);
    }
    vector(p + "ffn_norm.weight", E, 1.f, 0.1f);
    matrix(p + "ffn_gate.weight", E, F, 0.05f, l);
    matrix(p + "ffn_up.weight", E, F, 0.05f, l);
    matrix(p + "ffn_down.weight", F, E, 0.05f, l);
  }
  w.write_file(req.output);
}

}  // namespace fm
