#include "diffusion/checkpoint.h"

#include <algorithm>
#include <stdexcept>

#include "diffusion/safetensors.h"
#include "gguf/gguf_file.h"

namespace fm {
namespace {

// GGUF tensors under the checkpoint's names, shapes back in PyTorch order.
class GgufTensors : public TensorSource {
 public:
  explicit GgufTensors(std::unique_ptr<GgufFile> file) : file_(std::move(file)) {
    for (const GgufTensorInfo& t : file_->tensors()) {
      if (t.type != TensorType::F32 && t.type != TensorType::F16 && t.type != TensorType::BF16 &&
          t.type != TensorType::Q8_0)
        throw std::runtime_error("tensor " + t.name + ": type " + std::string(tensor_type_name(t.type)) +
                                 " is not supported for diffusion weights (F32, F16, BF16 and Q8_0 are)");
      TensorRef ref;
      ref.type = t.type;
      for (int d = t.n_dims - 1; d >= 0; --d) ref.shape.push_back(t.ne[d]);
      ref.data = t.data;
      refs_[t.name] = std::move(ref);
    }
  }
  const TensorRef* find(const std::string& name) const override {
    const auto it = refs_.find(name);
    return it == refs_.end() ? nullptr : &it->second;
  }
  bool maps_file() const override { return file_->is_file_mapping(); }

 private:
  std::unique_ptr<GgufFile> file_;
  std::map<std::string, TensorRef> refs_;
};

const TensorRef& need(const TensorSource& t, const std::string& name, size_t rank) {
  const TensorRef* r = t.find(name);
  if (!r) throw std::runtime_error("checkpoint has no tensor " + name);
  if (r->shape.size() != rank)
    throw std::runtime_error("tensor " + name + " has rank " + std::to_string(r->shape.size()) + ", expected " +
                             std::to_string(rank));
  return *r;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

namespace {

int64_t count_layers(const TensorSource& t, const std::string& prefix, const std::string& suffix) {
  int64_t n = 0;
  while (t.find(prefix + std::to_string(n) + suffix)) ++n;
  return n;
}

// Where each layout keeps the tensors whose shapes give the text encoder's sizes.
struct TextEncoderNames {
  std::string token_embedding, position_embedding, first_fc1, layer_prefix, layer_probe;
};

void infer_text_encoder(const TensorSource& t, ClipTextConfig& c) {
  const std::string hf = kClipPrefix, oc = kOpenClipPrefix;
  const bool open_clip = t.find(oc + "token_embedding.weight") != nullptr;  // SD 2.x: open_clip's names
  const TextEncoderNames n =
      open_clip ? TextEncoderNames{oc + "token_embedding.weight", oc + "positional_embedding",
                                   oc + "transformer.resblocks.0.mlp.c_fc.weight", oc + "transformer.resblocks.",
                                   ".attn.in_proj_weight"}
                : TextEncoderNames{hf + "embeddings.token_embedding.weight", hf + "embeddings.position_embedding.weight",
                                   hf + "encoder.layers.0.mlp.fc1.weight", hf + "encoder.layers.",
                                   ".self_attn.q_proj.weight"};
  c.kind = open_clip ? TextEncoderKind::kOpenClip : TextEncoderKind::kOpenAiClip;
  const TensorRef& tok = need(t, n.token_embedding, 2);
  c.vocab = tok.shape[0];
  c.width = tok.shape[1];
  c.n_pos = need(t, n.position_embedding, 2).shape[0];
  c.n_ff = need(t, n.first_fc1, 2).shape[0];
  c.n_layer = count_layers(t, n.layer_prefix, n.layer_probe);
  c.n_head = std::max<int64_t>(c.width / 64, 1);
  if (c.n_layer < (c.open_clip() ? 2 : 1))
    throw std::runtime_error("the text encoder has too few layers (" + std::to_string(c.n_layer) + ")");
}

}  // namespace

SdConfig infer_sd_config(const TensorSource& t) {
  SdConfig c = sd_config_named("sd1.5");
  infer_text_encoder(t, c.clip);
  const bool sd2 = c.clip.open_clip();
  c.name = sd2 ? "sd2" : "sd1";
  const std::string unet = kUnetPrefix, vae = kVaePrefix;
  c.unet.model_channels = need(t, unet + "input_blocks.0.0.weight", 4).shape[0];
  const std::string first_transformer = unet + "input_blocks.1.1.";
  c.unet.context_dim = need(t, first_transformer + "transformer_blocks.0.attn2.to_k.weight", 2).shape[1];
  const TensorRef* proj_out = t.find(first_transformer + "proj_out.weight");
  c.unet.linear_projection = proj_out && proj_out->shape.size() == 2;  // as stable-diffusion.cpp decides
  if (sd2) {
    c.unet.head_dim = 64;
    c.prediction = Prediction::kAuto;
  }
  c.vae.channels = need(t, vae + "decoder.conv_out.weight", 4).shape[1];
  if (const TensorRef* enc = t.find(vae + "encoder.conv_in.weight"); enc && enc->shape.size() == 4)
    c.vae.encoder_channels = enc->shape[0];
  return c;
}

SdCheckpoint open_sd_checkpoint(const std::string& path) {
  SdCheckpoint ck;
  try {
    if (ends_with(path, ".gguf")) ck.tensors = std::make_unique<GgufTensors>(GgufFile::open(path));
    else ck.tensors = std::make_unique<SafetensorsFile>(path);
    ck.config = infer_sd_config(*ck.tensors);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    if (what.rfind(path, 0) == 0) throw;
    throw std::runtime_error(path + ": " + what);
  }
  return ck;
}

}  // namespace fm
