#include "diffusion/vae_decoder.h"

#include <stdexcept>
#include <string>

#include "model/blocks.h"

namespace fm {
namespace {

constexpr int64_t kGroups = 32;
constexpr float kEps = 1e-6f;

}  // namespace

VaeDecoder::VaeDecoder(const VaeConfig& v, DiffusionWeights& w) : config_(v) {
  const std::string p = kVaePrefix, d = p + "decoder.";
  const int64_t z = v.z_channels, n_levels = static_cast<int64_t>(v.channel_mult.size());
  int64_t ch = v.channels * v.channel_mult.back();
  post_quant_conv_ = w.conv(p + "post_quant_conv", z, z, 1);
  conv_in_ = w.conv(d + "conv_in", ch, z, 3);
  const auto res = [&](const std::string& bp, int64_t c_in, int64_t c_out) {
    ResBlock r;
    r.norm1 = w.norm(bp + "norm1", c_in);
    r.conv1 = w.conv(bp + "conv1", c_out, c_in, 3);
    r.norm2 = w.norm(bp + "norm2", c_out);
    r.conv2 = w.conv(bp + "conv2", c_out, c_out, 3);
    if (c_in != c_out) {
      r.shortcut = w.conv(bp + "nin_shortcut", c_out, c_in, 1);
      r.has_shortcut = true;
    }
    return r;
  };
  mid_1_ = res(d + "mid.block_1.", ch, ch);
  attn_norm_ = w.norm(d + "mid.attn_1.norm", ch);
  attn_q_ = w.conv(d + "mid.attn_1.q", ch, ch, 1);
  attn_k_ = w.conv(d + "mid.attn_1.k", ch, ch, 1);
  attn_v_ = w.conv(d + "mid.attn_1.v", ch, ch, 1);
  attn_out_ = w.conv(d + "mid.attn_1.proj_out", ch, ch, 1);
  mid_2_ = res(d + "mid.block_2.", ch, ch);
  for (int64_t l = n_levels - 1; l >= 0; --l) {
    Level level;
    const int64_t out = v.channels * v.channel_mult[static_cast<size_t>(l)];
    for (int64_t r = 0; r <= v.n_res; ++r) {
      level.blocks.push_back(res(d + "up." + std::to_string(l) + ".block." + std::to_string(r) + ".", ch, out));
      ch = out;
    }
    if (l > 0) {
      level.upsample = w.conv(d + "up." + std::to_string(l) + ".upsample.conv", ch, ch, 3);
      level.has_upsample = true;
    }
    levels_.push_back(std::move(level));
  }
  norm_out_ = w.norm(d + "norm_out", ch);
  conv_out_ = w.conv(d + "conv_out", 3, ch, 3);
}

void VaeDecoder::res_block(const Compute& c, const ResBlock& r, FeatureMap& h, Scratch& s) const {
  const int64_t n = h.pixels();
  s.a.resize(h.height, h.width, h.channels);
  group_norm(c, h.data.data(), n, h.channels, kGroups, kEps, r.norm1, true, s.a.data.data());
  conv2d(c, r.conv1, s.a, s.b, s.nn);
  group_norm(c, s.b.data.data(), n, s.b.channels, kGroups, kEps, r.norm2, true, s.b.data.data());
  conv2d(c, r.conv2, s.b, s.a, s.nn);
  if (r.has_shortcut) {
    conv2d(c, r.shortcut, h, s.b, s.nn);
    add_inplace(s.a.data.data(), s.b.data.data(), n * s.a.channels);
  } else {
    add_inplace(s.a.data.data(), h.data.data(), n * s.a.channels);
  }
  std::swap(h, s.a);
}

void VaeDecoder::attention(const Compute& c, FeatureMap& h, Scratch& s) const {
  const int64_t n = h.pixels(), C = h.channels;
  s.a.resize(h.height, h.width, C);
  group_norm(c, h.data.data(), n, C, kGroups, kEps, attn_norm_, false, s.a.data.data());
  FeatureMap q, k, v;
  conv2d(c, attn_q_, s.a, q, s.nn);
  conv2d(c, attn_k_, s.a, k, s.nn);
  conv2d(c, attn_v_, s.a, v, s.nn);
  s.b.resize(h.height, h.width, C);
  multi_head_attention(c, q.data.data(), n, k.data.data(), v.data.data(), n, 1, C, false, s.b.data.data(), s.nn);
  conv2d(c, attn_out_, s.b, s.a, s.nn);
  add_inplace(h.data.data(), s.a.data.data(), n * C);
}

FeatureMap VaeDecoder::decode(const Compute& c, const FeatureMap& z) const {
  if (z.channels != config_.z_channels)
    throw std::invalid_argument("the VAE decoder takes latents of " + std::to_string(config_.z_channels) + " channels");
  Scratch s;
  FeatureMap h, t;
  conv2d(c, post_quant_conv_, z, t, s.nn);
  conv2d(c, conv_in_, t, h, s.nn);
  res_block(c, mid_1_, h, s);
  attention(c, h, s);
  res_block(c, mid_2_, h, s);
  for (const Level& level : levels_) {
    for (const ResBlock& r : level.blocks) res_block(c, r, h, s);
    if (level.has_upsample) {
      upsample2x(h, t);
      conv2d(c, level.upsample, t, h, s.nn);
    }
  }
  group_norm(c, h.data.data(), h.pixels(), h.channels, kGroups, kEps, norm_out_, true, h.data.data());
  FeatureMap out;
  conv2d(c, conv_out_, h, out, s.nn);
  return out;
}

}  // namespace fm
