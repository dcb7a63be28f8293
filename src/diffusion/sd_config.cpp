#include "diffusion/sd_config.h"

#include <stdexcept>

namespace fm {
namespace {

class TensorListBuilder {
 public:
  explicit TensorListBuilder(std::vector<SdTensorSpec>& out) : out_(out) {}
  void add(const std::string& name, std::vector<int64_t> shape) { out_.push_back({name, std::move(shape)}); }
  void weight_bias(const std::string& p, std::vector<int64_t> shape) {
    const int64_t n_out = shape[0];
    add(p + ".weight", std::move(shape));
    add(p + ".bias", {n_out});
  }
  void norm(const std::string& p, int64_t n) { weight_bias(p, {n}); }
  void conv(const std::string& p, int64_t c_out, int64_t c_in, int64_t k) { weight_bias(p, {c_out, c_in, k, k}); }

 private:
  std::vector<SdTensorSpec>& out_;
};

// open_clip's layout, as SD 2.x checkpoints store the text encoder.
void open_clip_tensors(const ClipTextConfig& c, TensorListBuilder& b) {
  const std::string p = kOpenClipPrefix;
  b.add(p + "positional_embedding", {c.n_pos, c.width});
  b.add(p + "text_projection", {c.width, c.width});
  b.add(p + "token_embedding.weight", {c.vocab, c.width});
  b.add(p + "logit_scale", {});
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string lp = p + "transformer.resblocks." + std::to_string(l) + ".";
    b.add(lp + "attn.in_proj_weight", {3 * c.width, c.width});
    b.add(lp + "attn.in_proj_bias", {3 * c.width});
    b.weight_bias(lp + "attn.out_proj", {c.width, c.width});
    b.norm(lp + "ln_1", c.width);
    b.norm(lp + "ln_2", c.width);
    b.weight_bias(lp + "mlp.c_fc", {c.n_ff, c.width});
    b.weight_bias(lp + "mlp.c_proj", {c.width, c.n_ff});
  }
  b.norm(p + "ln_final", c.width);
}

void clip_tensors(const ClipTextConfig& c, TensorListBuilder& b) {
  if (c.open_clip()) return open_clip_tensors(c, b);
  const std::string p = kClipPrefix;
  b.add(p + "embeddings.token_embedding.weight", {c.vocab, c.width});
  b.add(p + "embeddings.position_embedding.weight", {c.n_pos, c.width});
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string lp = p + "encoder.layers." + std::to_string(l) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"})
      b.weight_bias(lp + "self_attn." + proj, {c.width, c.width});
    b.norm(lp + "layer_norm1", c.width);
    b.weight_bias(lp + "mlp.fc1", {c.n_ff, c.width});
    b.weight_bias(lp + "mlp.fc2", {c.width, c.n_ff});
    b.norm(lp + "layer_norm2", c.width);
  }
  b.norm(p + "final_layer_norm", c.width);
}

void unet_res_block(const UnetConfig& u, TensorListBuilder& b, const std::string& p, int64_t c_in, int64_t c_out) {
  b.norm(p + "in_layers.0", c_in);
  b.conv(p + "in_layers.2", c_out, c_in, 3);
  b.weight_bias(p + "emb_layers.1", {c_out, u.time_embed_dim()});
  b.norm(p + "out_layers.0", c_out);
  b.conv(p + "out_layers.3", c_out, c_out, 3);
  if (c_in != c_out) b.conv(p + "skip_connection", c_out, c_in, 1);
}

void unet_transformer(const UnetConfig& u, TensorListBuilder& b, const std::string& p, int64_t c) {
  b.norm(p + "norm", c);
  const auto projection = [&](const std::string& name) {
    if (u.linear_projection) b.weight_bias(p + name, {c, c});
    else b.conv(p + name, c, c, 1);
  };
  projection("proj_in");
  const std::string t = p + "transformer_blocks.0.";
  const auto attention = [&](const std::string& a, int64_t kv_width) {
    b.add(t + a + ".to_q.weight", {c, c});
    b.add(t + a + ".to_k.weight", {c, kv_width});
    b.add(t + a + ".to_v.weight", {c, kv_width});
    b.weight_bias(t + a + ".to_out.0", {c, c});
  };
  attention("attn1", c);
  b.weight_bias(t + "ff.net.0.proj", {c * 8, c});  // GEGLU: value and gate halves
  b.weight_bias(t + "ff.net.2", {c, c * 4});
  attention("attn2", u.context_dim);
  b.norm(t + "norm1", c);
  b.norm(t + "norm2", c);
  b.norm(t + "norm3", c);
  projection("proj_out");
}

void unet_tensors(const UnetConfig& u, TensorListBuilder& b) {
  const std::string p = kUnetPrefix;
  const int64_t mc = u.model_channels, levels = static_cast<int64_t>(u.channel_mult.size());
  b.weight_bias(p + "time_embed.0", {u.time_embed_dim(), mc});
  b.weight_bias(p + "time_embed.2", {u.time_embed_dim(), u.time_embed_dim()});
  b.conv(p + "input_blocks.0.0", mc, u.in_channels, 3);
  std::vector<int64_t> skip_channels{mc};
  int64_t ch = mc, block = 1;
  for (int64_t l = 0; l < levels; ++l) {
    for (int64_t r = 0; r < u.n_res; ++r, ++block) {
      const std::string bp = p + "input_blocks." + std::to_string(block) + ".";
      const int64_t out = mc * u.channel_mult[static_cast<size_t>(l)];
      unet_res_block(u, b, bp + "0.", ch, out);
      ch = out;
      if (u.attention_at_level[static_cast<size_t>(l)]) unet_transformer(u, b, bp + "1.", ch);
      skip_channels.push_back(ch);
    }
    if (l + 1 < levels) {
      b.conv(p + "input_blocks." + std::to_string(block++) + ".0.op", ch, ch, 3);
      skip_channels.push_back(ch);
    }
  }
  unet_res_block(u, b, p + "middle_block.0.", ch, ch);
  unet_transformer(u, b, p + "middle_block.1.", ch);
  unet_res_block(u, b, p + "middle_block.2.", ch, ch);
  block = 0;
  for (int64_t l = levels - 1; l >= 0; --l) {
    for (int64_t r = 0; r <= u.n_res; ++r, ++block) {
      const std::string bp = p + "output_blocks." + std::to_string(block) + ".";
      const int64_t out = mc * u.channel_mult[static_cast<size_t>(l)];
      const int64_t skip = skip_channels.back();
      skip_channels.pop_back();
      unet_res_block(u, b, bp + "0.", ch + skip, out);
      ch = out;
      int64_t sub = 1;
      if (u.attention_at_level[static_cast<size_t>(l)]) unet_transformer(u, b, bp + std::to_string(sub++) + ".", ch);
      if (l > 0 && r == u.n_res) b.conv(bp + std::to_string(sub) + ".conv", ch, ch, 3);
    }
  }
  b.norm(p + "out.0", mc);
  b.conv(p + "out.2", u.out_channels, mc, 3);
}

void vae_res_block(TensorListBuilder& b, const std::string& p, int64_t c_in, int64_t c_out) {
  b.norm(p + "norm1", c_in);
  b.conv(p + "conv1", c_out, c_in, 3);
  b.norm(p + "norm2", c_out);
  b.conv(p + "conv2", c_out, c_out, 3);
  if (c_in != c_out) b.conv(p + "nin_shortcut", c_out, c_in, 1);
}

void vae_mid(TensorListBuilder& b, const std::string& p, int64_t c) {
  vae_res_block(b, p + "mid.block_1.", c, c);
  b.norm(p + "mid.attn_1.norm", c);
  for (const char* proj : {"q", "k", "v", "proj_out"}) b.conv(p + "mid.attn_1." + proj, c, c, 1);
  vae_res_block(b, p + "mid.block_2.", c, c);
}

void vae_tensors(const VaeConfig& v, TensorListBuilder& b) {
  const std::string p = kVaePrefix;
  const int64_t levels = static_cast<int64_t>(v.channel_mult.size()), z = v.z_channels;
  b.conv(p + "post_quant_conv", z, z, 1);
  const std::string d = p + "decoder.";
  int64_t ch = v.channels * v.channel_mult.back();
  b.conv(d + "conv_in", ch, z, 3);
  vae_mid(b, d, ch);
  for (int64_t l = levels - 1; l >= 0; --l) {
    const int64_t out = v.channels * v.channel_mult[static_cast<size_t>(l)];
    for (int64_t r = 0; r <= v.n_res; ++r) {
      vae_res_block(b, d + "up." + std::to_string(l) + ".block." + std::to_string(r) + ".", ch, out);
      ch = out;
    }
    if (l > 0) b.conv(d + "up." + std::to_string(l) + ".upsample.conv", ch, ch, 3);
  }
  b.norm(d + "norm_out", ch);
  b.conv(d + "conv_out", 3, ch, 3);
  // The encoder (image to latent) is only stored; txt2img never runs it.
  const std::string e = p + "encoder.";
  ch = v.encoder_channels;
  b.conv(e + "conv_in", ch, 3, 3);
  for (int64_t l = 0; l < levels; ++l) {
    const int64_t out = v.encoder_channels * v.channel_mult[static_cast<size_t>(l)];
    for (int64_t r = 0; r < v.n_res; ++r) {
      vae_res_block(b, e + "down." + std::to_string(l) + ".block." + std::to_string(r) + ".", ch, out);
      ch = out;
    }
    if (l + 1 < levels) b.conv(e + "down." + std::to_string(l) + ".downsample.conv", ch, ch, 3);
  }
  vae_mid(b, e, ch);
  b.norm(e + "norm_out", ch);
  b.conv(e + "conv_out", 2 * z, ch, 3);
  b.conv(p + "quant_conv", 2 * z, 2 * z, 1);
}

}  // namespace

SdConfig sd_config_named(const std::string& name) {
  SdConfig c;
  c.name = name;
  if (name == "sd1.5") return c;
  if (name == "sd1-fixture") {
    c.unet.model_channels = 32;
    c.vae.channels = 32;
    return c;
  }
  if (name == "sd2.1" || name == "sd2-small") {
    c.clip.kind = TextEncoderKind::kOpenClip;
    c.clip.n_layer = 24, c.clip.width = 1024, c.clip.n_head = 16, c.clip.n_ff = 4096;
    c.unet.context_dim = 1024;
    c.unet.head_dim = 64;
    c.unet.linear_projection = true;
    c.prediction = Prediction::kAuto;
    if (name == "sd2-small") {
      c.unet.model_channels = 64;
      c.vae.channels = 32;
      c.synth_cross_attention_gain = 16.f;
    }
    return c;
  }
  throw std::invalid_argument("unknown diffusion model shape '" + name + "' (known: sd1.5, sd1-fixture, sd2.1, sd2-small)");
}

std::optional<Prediction> prediction_from_name(const std::string& name) {
  if (name == "eps") return Prediction::kEps;
  if (name == "v") return Prediction::kV;
  if (name == "auto") return Prediction::kAuto;
  return std::nullopt;
}

std::vector<int32_t> empty_prompt_tokens(const ClipTextConfig& clip, size_t n_ids) {
  const int32_t pad = clip.pad_token() < 0 ? clip.eos_token() : clip.pad_token();
  std::vector<int32_t> ids(n_ids, pad);
  for (size_t w = 0; w + 1 < n_ids; w += static_cast<size_t>(clip.n_pos)) {
    ids[w] = clip.bos_token();
    ids[w + 1] = clip.eos_token();
  }
  return ids;
}

std::vector<std::string> sd_config_names() { return {"sd1.5", "sd1-fixture", "sd2.1", "sd2-small"}; }

std::vector<SdTensorSpec> sd_tensor_list(const SdConfig& config) {
  std::vector<SdTensorSpec> out;
  TensorListBuilder b(out);
  clip_tensors(config.clip, b);
  unet_tensors(config.unet, b);
  vae_tensors(config.vae, b);
  for (SdTensorSpec& spec : out)
    if (spec.name.find("attn2.to_out.0.weight") != std::string::npos) spec.synth_gain = config.synth_cross_attention_gain;
  return out;
}

}  // namespace fm
