#include "diffusion/unet.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "model/blocks.h"

namespace fm {
namespace {

constexpr int64_t kGroups = 32;
constexpr float kGroupNormEps = 1e-6f;  // stable-diffusion.cpp's GroupNorm32 (the LDM code uses 1e-5 in ResBlocks)
constexpr float kLayerNormEps = 1e-5f;

}  // namespace

struct Unet::Scratch {
  FeatureMap a, b, skip;
  std::vector<float> emb, tokens, normed, q, k, v, att, ff, ff_gate;
  NnScratch nn;
};

Unet::Unet(const UnetConfig& u, DiffusionWeights& w) : config_(u) {
  const std::string p = kUnetPrefix;
  const int64_t mc = u.model_channels, T = u.time_embed_dim(), levels = static_cast<int64_t>(u.channel_mult.size());
  time_embed_0_ = w.linear(p + "time_embed.0", T, mc);
  time_embed_2_ = w.linear(p + "time_embed.2", T, T);

  const auto res = [&](const std::string& bp, int64_t c_in, int64_t c_out) {
    Module m{Kind::kRes, {}, {}, {}};
    ResBlock& r = m.res;
    r.in_norm = w.norm(bp + "in_layers.0", c_in);
    r.in_conv = w.conv(bp + "in_layers.2", c_out, c_in, 3);
    r.emb = w.linear(bp + "emb_layers.1", c_out, T);
    r.out_norm = w.norm(bp + "out_layers.0", c_out);
    r.out_conv = w.conv(bp + "out_layers.3", c_out, c_out, 3);
    if (c_in != c_out) {
      r.skip = w.conv(bp + "skip_connection", c_out, c_in, 1);
      r.has_skip = true;
    }
    return m;
  };
  const auto transformer = [&](const std::string& bp, int64_t c) {
    Module m{Kind::kTransformer, {}, {}, {}};
    Transformer& t = m.transformer;
    t.n_head = u.heads_at(c);
    t.norm = w.norm(bp + "norm", c);
    t.linear_projection = u.linear_projection;
    if (t.linear_projection) {
      t.proj_in_linear = w.linear(bp + "proj_in", c, c);
      t.proj_out_linear = w.linear(bp + "proj_out", c, c);
    } else {
      t.proj_in = w.conv(bp + "proj_in", c, c, 1);
      t.proj_out = w.conv(bp + "proj_out", c, c, 1);
    }
    const std::string tb = bp + "transformer_blocks.0.";
    t.norm1 = w.norm(tb + "norm1", c);
    t.norm2 = w.norm(tb + "norm2", c);
    t.norm3 = w.norm(tb + "norm3", c);
    const auto attention = [&](const std::string& a, int64_t kv_width) {
      return Attention{w.linear(tb + a + ".to_q", c, c, false), w.linear(tb + a + ".to_k", c, kv_width, false),
                       w.linear(tb + a + ".to_v", c, kv_width, false), w.linear(tb + a + ".to_out.0", c, c)};
    };
    t.self_attn = attention("attn1", c);
    t.cross_attn = attention("attn2", u.context_dim);
    t.ff_in = w.linear(tb + "ff.net.0.proj", 8 * c, c);
    t.ff_out = w.linear(tb + "ff.net.2", c, 4 * c);
    return m;
  };
  const auto conv = [&](Kind kind, const std::string& name, int64_t c_out, int64_t c_in, int64_t stride) {
    Module m{kind, {}, {}, {}};
    m.conv = w.conv(name, c_out, c_in, 3, stride);
    return m;
  };

  input_blocks_.push_back({conv(Kind::kConv, p + "input_blocks.0.0", mc, u.in_channels, 1)});
  std::vector<int64_t> skips{mc};
  int64_t ch = mc;
  for (int64_t l = 0; l < levels; ++l) {
    const int64_t out = mc * u.channel_mult[static_cast<size_t>(l)];
    for (int64_t r = 0; r < u.n_res; ++r) {
      const std::string bp = p + "input_blocks." + std::to_string(input_blocks_.size()) + ".";
      Block block{res(bp + "0.", ch, out)};
      ch = out;
      if (u.attention_at_level[static_cast<size_t>(l)]) block.push_back(transformer(bp + "1.", ch));
      input_blocks_.push_back(std::move(block));
      skips.push_back(ch);
    }
    if (l + 1 < levels) {
      input_blocks_.push_back({conv(Kind::kConv, p + "input_blocks." + std::to_string(input_blocks_.size()) + ".0.op",
                                    ch, ch, 2)});
      skips.push_back(ch);
    }
  }
  middle_block_ = {res(p + "middle_block.0.", ch, ch), transformer(p + "middle_block.1.", ch),
                   res(p + "middle_block.2.", ch, ch)};
  for (int64_t l = levels - 1; l >= 0; --l) {
    const int64_t out = mc * u.channel_mult[static_cast<size_t>(l)];
    for (int64_t r = 0; r <= u.n_res; ++r) {
      const std::string bp = p + "output_blocks." + std::to_string(output_blocks_.size()) + ".";
      Block block{res(bp + "0.", ch + skips.back(), out)};
      skips.pop_back();
      ch = out;
      if (u.attention_at_level[static_cast<size_t>(l)])
        block.push_back(transformer(bp + std::to_string(block.size()) + ".", ch));
      if (l > 0 && r == u.n_res)
        block.push_back(conv(Kind::kUpsample, bp + std::to_string(block.size()) + ".conv", ch, ch, 1));
      output_blocks_.push_back(std::move(block));
    }
  }
  out_norm_ = w.norm(p + "out.0", mc);
  out_conv_ = w.conv(p + "out.2", u.out_channels, mc, 3);
}

void Unet::res_block(const Compute& c, const ResBlock& r, FeatureMap& h, const float* emb, Scratch& s) const {
  const int64_t n = h.pixels();
  s.a.resize(h.height, h.width, h.channels);
  group_norm(c, h.data.data(), n, h.channels, kGroups, kGroupNormEps, r.in_norm, true, s.a.data.data());
  conv2d(c, r.in_conv, s.a, s.b, s.nn);
  // The timestep embedding, projected to this block's width, is added to every pixel.
  const int64_t co = r.in_conv.c_out;
  s.emb.assign(static_cast<size_t>(co), 0.f);
  linear(c, r.emb, emb, 1, s.emb.data());
  for (int64_t p = 0; p < n; ++p) add_inplace(s.b.data.data() + p * co, s.emb.data(), co);
  group_norm(c, s.b.data.data(), n, co, kGroups, kGroupNormEps, r.out_norm, true, s.b.data.data());
  conv2d(c, r.out_conv, s.b, s.a, s.nn);
  if (r.has_skip) {
    conv2d(c, r.skip, h, s.b, s.nn);
    add_inplace(s.a.data.data(), s.b.data.data(), n * co);
  } else {
    add_inplace(s.a.data.data(), h.data.data(), n * co);
  }
  std::swap(h, s.a);
}

void Unet::transformer(const Compute& c, const Transformer& t, FeatureMap& h, const float* context, int64_t n_ctx,
                       Scratch& s) const {
  const int64_t n = h.pixels(), C = h.channels, d = C / t.n_head;
  s.a.resize(h.height, h.width, C);
  group_norm(c, h.data.data(), n, C, kGroups, kGroupNormEps, t.norm, false, s.a.data.data());
  if (t.linear_projection) {
    s.b.resize(h.height, h.width, C);
    linear(c, t.proj_in_linear, s.a.data.data(), n, s.b.data.data());
  } else {
    conv2d(c, t.proj_in, s.a, s.b, s.nn);  // s.b: the block's token stream [n, C]
  }
  float* x = s.b.data.data();
  const size_t nc = static_cast<size_t>(n * C);
  s.normed.resize(nc);
  s.q.resize(nc);
  s.att.resize(nc);
  s.tokens.resize(nc);
  const auto attend = [&](const Attention& a, const float* kv_src, int64_t n_kv) {
    s.k.resize(static_cast<size_t>(n_kv * C));
    s.v.resize(static_cast<size_t>(n_kv * C));
    linear(c, a.q, s.normed.data(), n, s.q.data());
    linear(c, a.k, kv_src, n_kv, s.k.data());
    linear(c, a.v, kv_src, n_kv, s.v.data());
    multi_head_attention(c, s.q.data(), n, s.k.data(), s.v.data(), n_kv, t.n_head, d, false, s.att.data(), s.nn);
    linear(c, a.out, s.att.data(), n, s.tokens.data());
    add_inplace(x, s.tokens.data(), n * C);
  };
  layer_norm(x, t.norm1.w, t.norm1.b, n, C, kLayerNormEps, s.normed.data());
  attend(t.self_attn, s.normed.data(), n);
  layer_norm(x, t.norm2.w, t.norm2.b, n, C, kLayerNormEps, s.normed.data());
  attend(t.cross_attn, context, n_ctx);
  layer_norm(x, t.norm3.w, t.norm3.b, n, C, kLayerNormEps, s.normed.data());
  s.ff.resize(static_cast<size_t>(n * 8 * C));
  s.ff_gate.resize(static_cast<size_t>(n * 4 * C));
  linear(c, t.ff_in, s.normed.data(), n, s.ff.data());
  for (int64_t p = 0; p < n; ++p) {  // value half * gelu(gate half)
    const float* row = s.ff.data() + p * 8 * C;
    geglu(row + 4 * C, row, 4 * C, s.ff_gate.data() + p * 4 * C);
  }
  linear(c, t.ff_out, s.ff_gate.data(), n, s.tokens.data());
  add_inplace(x, s.tokens.data(), n * C);
  if (t.linear_projection) {
    s.a.resize(h.height, h.width, C);
    linear(c, t.proj_out_linear, s.b.data.data(), n, s.a.data.data());
  } else {
    conv2d(c, t.proj_out, s.b, s.a, s.nn);
  }
  add_inplace(h.data.data(), s.a.data.data(), n * C);
}

void Unet::run_block(const Compute& c, const Block& block, FeatureMap& h, const float* emb, const float* context,
                     int64_t n_ctx, Scratch& s) const {
  for (const Module& m : block) {
    switch (m.kind) {
      case Kind::kConv:
        conv2d(c, m.conv, h, s.a, s.nn);
        std::swap(h, s.a);
        break;
      case Kind::kRes: res_block(c, m.res, h, emb, s); break;
      case Kind::kTransformer: transformer(c, m.transformer, h, context, n_ctx, s); break;
      case Kind::kUpsample:
        upsample2x(h, s.a);
        conv2d(c, m.conv, s.a, h, s.nn);
        break;
    }
  }
}

FeatureMap Unet::forward(const Compute& c, const FeatureMap& x, float timestep, const float* context,
                         int64_t n_ctx) const {
  const int64_t down = int64_t{1} << (config_.channel_mult.size() - 1);
  if (x.channels != config_.in_channels || x.height % down != 0 || x.width % down != 0)
    throw std::invalid_argument("UNet input must have " + std::to_string(config_.in_channels) +
                                " channels and sides divisible by " + std::to_string(down));
  const int64_t T = config_.time_embed_dim();
  const std::vector<float> t_emb = timestep_embedding(timestep, config_.model_channels);
  std::vector<float> e0(static_cast<size_t>(T)), emb(static_cast<size_t>(T));
  linear(c, time_embed_0_, t_emb.data(), 1, e0.data());
  silu_inplace(e0.data(), T);
  linear(c, time_embed_2_, e0.data(), 1, emb.data());
  silu_inplace(emb.data(), T);  // every ResBlock applies SiLU before its projection; done once here

  Scratch s;
  FeatureMap h = x;
  std::vector<FeatureMap> skips;
  for (const Block& b : input_blocks_) {
    run_block(c, b, h, emb.data(), context, n_ctx, s);
    skips.push_back(h);
  }
  run_block(c, middle_block_, h, emb.data(), context, n_ctx, s);
  for (const Block& b : output_blocks_) {
    const FeatureMap& skip = skips.back();
    FeatureMap cat;
    cat.resize(h.height, h.width, h.channels + skip.channels);
    for (int64_t p = 0; p < h.pixels(); ++p) {
      std::copy_n(h.data.data() + p * h.channels, h.channels, cat.data.data() + p * cat.channels);
      std::copy_n(skip.data.data() + p * skip.channels, skip.channels, cat.data.data() + p * cat.channels + h.channels);
    }
    skips.pop_back();
    h = std::move(cat);
    run_block(c, b, h, emb.data(), context, n_ctx, s);
  }
  group_norm(c, h.data.data(), h.pixels(), h.channels, kGroups, kGroupNormEps, out_norm_, true, h.data.data());
  FeatureMap out;
  conv2d(c, out_conv_, h, out, s.nn);
  return out;
}

}  // namespace fm
