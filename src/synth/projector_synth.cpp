// Random-weight vision projectors with the tensor names, shapes and clip.* metadata of real mmproj files.
#include <stdexcept>

#include "gguf/gguf_writer.h"
#include "synth/model_synth.h"
#include "synth/synth_random.h"
#include "tensor/kernels/kernel_table.h"

namespace fm {
namespace {

struct ProjectorShape {
  const char* name;
  const char* projector;
  int64_t image_size, patch, n_embd, n_layer, n_head, n_ff, text_width;
  int64_t n_wa_pattern;  // Qwen2.5-VL: full attention every n-th layer (0: SigLIP)
};

constexpr ProjectorShape kProjectors[] = {
    // google/gemma-3-4b-it's SigLIP-So400m tower at 896 px (the text width of Gemma 3 4B).
    {"gemma3-siglip-896", "gemma3", 896, 14, 1152, 27, 16, 4304, 2560, 0},
    // Qwen/Qwen2.5-VL-7B-Instruct's ViT: window attention, full attention in blocks 7, 15, 23, 31; merger to 3584.
    {"qwen2.5-vl-7b-vit", "qwen2.5vl_merger", 1024, 14, 1280, 32, 16, 3420, 3584, 8},
};

}  // namespace

std::vector<std::string> projector_shapes() {
  std::vector<std::string> out;
  for (const auto& p : kProjectors) out.emplace_back(p.name);
  return out;
}

void synthesize_projector(const SynthRequest& req) {
  const ProjectorShape* sh = nullptr;
  for (const auto& p : kProjectors)
    if (req.shape == p.name) sh = &p;
  if (!sh) throw std::invalid_argument("unknown projector shape '" + req.shape + "'");
  if (req.type != "F16" && req.type != "Q8_0") throw std::invalid_argument("projector types are F16 and Q8_0");
  if (!req.arch.empty() && req.arch != "clip") throw std::invalid_argument("projector shapes are 'clip' files");
  const bool qwen = sh->n_wa_pattern > 0;
  const int64_t E = sh->n_embd, F = sh->n_ff, P = sh->patch, T = req.text_width > 0 ? req.text_width : sh->text_width;
  GgufWriter w;
  w.set("general.architecture", GgufWriteValue::string("clip"));
  w.set("general.name", GgufWriteValue::string(std::string("synthetic ") + sh->name));
  w.set("general.file_type", GgufWriteValue::u32(req.type == "F16" ? 1 : 7));
  w.set("clip.has_vision_encoder", GgufWriteValue::boolean(true));
  w.set("clip.projector_type", GgufWriteValue::string(sh->projector));
  w.set("clip.vision.image_size", GgufWriteValue::u32(static_cast<uint32_t>(sh->image_size)));
  w.set("clip.vision.patch_size", GgufWriteValue::u32(static_cast<uint32_t>(P)));
  w.set("clip.vision.embedding_length", GgufWriteValue::u32(static_cast<uint32_t>(E)));
  w.set("clip.vision.feed_forward_length", GgufWriteValue::u32(static_cast<uint32_t>(F)));
  w.set("clip.vision.block_count", GgufWriteValue::u32(static_cast<uint32_t>(sh->n_layer)));
  w.set("clip.vision.attention.head_count", GgufWriteValue::u32(static_cast<uint32_t>(sh->n_head)));
  w.set("clip.vision.attention.layer_norm_epsilon", GgufWriteValue::f32(1e-6f));
  w.set("clip.vision.projection_dim", GgufWriteValue::u32(static_cast<uint32_t>(T)));
  if (qwen) {
    w.set("clip.vision.image_mean", GgufWriteValue::f32s({0.48145466f, 0.4578275f, 0.40821073f}));
    w.set("clip.vision.image_std", GgufWriteValue::f32s({0.26862954f, 0.26130258f, 0.27577711f}));
    w.set("clip.use_silu", GgufWriteValue::boolean(true));
    w.set("clip.vision.n_wa_pattern", GgufWriteValue::u32(static_cast<uint32_t>(sh->n_wa_pattern)));
  } else {
    w.set("clip.vision.image_mean", GgufWriteValue::f32s({0.5f, 0.5f, 0.5f}));
    w.set("clip.vision.image_std", GgufWriteValue::f32s({0.5f, 0.5f, 0.5f}));
    w.set("clip.use_gelu", GgufWriteValue::boolean(true));
  }

  uint64_t seed = req.seed;
  // Weight matrices in the requested type (F16 where rows do not split into Q8_0 blocks); small values keep the
  // activations finite through the layers.
  auto tensor = [&](const std::string& name, std::vector<int64_t> dims, TensorType type, float scale) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    const int64_t cols = dims[0], rows = n / cols;
    if (type == TensorType::Q8_0 && cols % 32 != 0) type = TensorType::F16;
    const uint64_t s = ++seed;
    w.add_tensor(name, type, dims, [=](uint8_t* dst) {
      Rng rng(s);
      std::vector<float> row(static_cast<size_t>(cols));
      const QuantizeRowFn quantize = scalar_kernels().quantize_fn(type);
      const size_t row_bytes = tensor_row_bytes(type, cols);
      for (int64_t r = 0; r < rows; ++r) {
        for (auto& v : row) v = scale * rng.uniform();
        if (type == TensorType::F32) std::copy(row.begin(), row.end(), reinterpret_cast<float*>(dst) + r * cols);
        else quantize(row.data(), dst + static_cast<size_t>(r) * row_bytes, cols);
      }
    });
  };
  const TensorType wt = req.type == "F16" ? TensorType::F16 : TensorType::Q8_0;
  auto matrix = [&](const std::string& name, int64_t cols, int64_t rows, float scale) { tensor(name, {cols, rows}, wt, scale); };
  auto vector = [&](const std::string& name, int64_t n, float base, float jitter) {
    const uint64_t s = ++seed;
    w.add_tensor(name, TensorType::F32, {n}, [=](uint8_t* dst) {
      Rng rng(s);
      float* f = reinterpret_cast<float*>(dst);
      for (int64_t i = 0; i < n; ++i) f[i] = base + jitter * rng.uniform();
    });
  };

  tensor("v.patch_embd.weight", {P, P, 3, E}, TensorType::F16, 0.02f);
  if (qwen) {
    tensor("v.patch_embd.weight.1", {P, P, 3, E}, TensorType::F16, 0.02f);
  } else {
    vector("v.patch_embd.bias", E, 0.f, 0.02f);
    const int64_t side = sh->image_size / P;
    tensor("v.position_embd.weight", {E, side * side}, TensorType::F32, 0.02f);  // ggml adds it to f32 activations
  }
  for (int64_t l = 0; l < sh->n_layer; ++l) {
    const std::string p = "v.blk." + std::to_string(l) + ".";
    vector(p + "ln1.weight", E, 1.f, 0.1f);
    vector(p + "ln2.weight", E, 1.f, 0.1f);
    if (!qwen) {
      vector(p + "ln1.bias", E, 0.f, 0.02f);
      vector(p + "ln2.bias", E, 0.f, 0.02f);
    }
    for (const char* t : {"attn_q", "attn_k", "attn_v", "attn_out"}) {
      matrix(p + t + ".weight", E, E, 0.03f);
      vector(p + t + ".bias", E, 0.f, 0.02f);
    }
    matrix(p + "ffn_up.weight", E, F, 0.03f);
    vector(p + "ffn_up.bias", F, 0.f, 0.02f);
    if (qwen) {
      matrix(p + "ffn_gate.weight", E, F, 0.03f);
      vector(p + "ffn_gate.bias", F, 0.f, 0.02f);
    }
    matrix(p + "ffn_down.weight", F, E, 0.03f);
    vector(p + "ffn_down.bias", E, 0.f, 0.02f);
  }
  vector("v.post_ln.weight", E, 1.f, 0.1f);
  if (qwen) {
    matrix("mm.0.weight", 4 * E, 4 * E, 0.02f);
    vector("mm.0.bias", 4 * E, 0.f, 0.02f);
    matrix("mm.2.weight", 4 * E, T, 0.02f);
    vector("mm.2.bias", T, 0.f, 0.02f);
  } else {
    vector("v.post_ln.bias", E, 0.f, 0.02f);
    vector("mm.soft_emb_norm.weight", E, 1.f, 0.1f);
    matrix("mm.input_projection.weight", T, E, 0.02f);
  }
  w.write_file(req.output);
}

}  // namespace fm
