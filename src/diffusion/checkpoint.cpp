#include "diffusion/checkpoint.h"

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
      if (t.type != TensorType::F32 && t.type != TensorType::F16 && t.type != TensorType::BF16)
        throw std::runtime_error("tensor " + t.name + ": type " + std::string(tensor_type_name(t.type)) +
                                 " is not supported for diffusion weights (F32, F16 and BF16 are)");
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

SdConfig infer_sd_config(const TensorSource& t) {
  if (t.find("cond_stage_model.model.token_embedding.weight"))
    throw std::runtime_error("this is a Stable Diffusion 2.x checkpoint (OpenCLIP text encoder); only SD 1.x is supported");
  SdConfig c = sd_config_named("sd1.5");
  c.name = "sd1";
  const std::string clip = kClipPrefix, unet = kUnetPrefix, vae = kVaePrefix;
  const TensorRef& tok = need(t, clip + "embeddings.token_embedding.weight", 2);
  c.clip.vocab = tok.shape[0];
  c.clip.width = tok.shape[1];
  c.clip.n_pos = need(t, clip + "embeddings.position_embedding.weight", 2).shape[0];
  c.clip.n_ff = need(t, clip + "encoder.layers.0.mlp.fc1.weight", 2).shape[0];
  c.clip.n_head = c.clip.width / 64;
  c.clip.n_layer = 0;
  while (t.find(clip + "encoder.layers." + std::to_string(c.clip.n_layer) + ".self_attn.q_proj.weight")) ++c.clip.n_layer;
  c.unet.model_channels = need(t, unet + "input_blocks.0.0.weight", 4).shape[0];
  c.unet.context_dim = need(t, unet + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", 2).shape[1];
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
