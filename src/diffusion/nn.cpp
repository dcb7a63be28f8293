#include "diffusion/nn.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "diffusion/tensor_source.h"
#include "gguf/mapped_file.h"
#include "model/blocks.h"
#include "tensor/fp16.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm {
namespace {

constexpr int64_t kQueryBlock = 64;              // queries of one head scored together
constexpr int64_t kIm2colChunkFloats = 1 << 22;  // 16 MiB of im2col rows at a time

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// Any stored type as f32 values, row by row of the innermost dimension (Q8_0 blocks never straddle rows).
void to_f32(const TensorRef& t, float* out) {
  const int64_t n = t.elements();
  if (t.type == TensorType::Q8_0) {
    const int64_t cols = t.shape.empty() ? 1 : t.shape.back(), rows = n / std::max<int64_t>(cols, 1);
    const DequantizeRowFn dequantize = scalar_kernels().dequantize_fn(TensorType::Q8_0);
    const size_t row_bytes = tensor_row_bytes(TensorType::Q8_0, cols);
    for (int64_t r = 0; r < rows; ++r) dequantize(t.data + r * row_bytes, out + r * cols, cols);
    return;
  }
  const auto* src = reinterpret_cast<const uint16_t*>(t.data);
  for (int64_t i = 0; i < n; ++i) out[i] = t.type == TensorType::F16 ? fp16_to_fp32(src[i]) : bf16_to_fp32(src[i]);
}

void grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

const TensorRef& DiffusionWeights::require(const std::string& name, const std::vector<int64_t>& shape) {
  const TensorRef* t = source_.find(name);
  if (!t) throw std::runtime_error("checkpoint has no tensor " + name);
  if (t->shape != shape)
    throw std::runtime_error("tensor " + name + " has shape " + shape_text(t->shape) + ", expected " +
                             shape_text(shape));
  if (t->type == TensorType::Q8_0) {  // only from GGUF files, whose tensors are aligned
    if (t->shape.empty() || t->shape.back() % 32 != 0)
      throw std::runtime_error("tensor " + name + ": Q8_0 rows must hold whole blocks of 32");
    return *t;
  }
  const size_t element = t->type == TensorType::F32 ? 4 : 2;
  if (reinterpret_cast<uintptr_t>(t->data) % element == 0) return *t;
  // A file may place a tensor at any byte offset: its values are read from an aligned copy.
  const auto& bytes = owned_bytes_.emplace_back(t->data, t->data + static_cast<size_t>(t->elements()) * element);
  TensorRef& copy = aligned_refs_.emplace_back(*t);
  copy.data = bytes.data();
  return copy;
}

MatrixView DiffusionWeights::matrix(const std::string& name, const std::vector<int64_t>& shape) {
  const TensorRef& t = require(name, shape);
  const int64_t rows = shape[0], cols = t.elements() / std::max<int64_t>(rows, 1);
  MatrixView m;
  m.n_rows = rows;
  m.n_cols = cols;
  if (t.type == TensorType::BF16) {
    auto& copy = owned_.emplace_back(static_cast<size_t>(t.elements()));
    to_f32(t, copy.data());
    m.type = TensorType::F32;
    m.data = reinterpret_cast<const uint8_t*>(copy.data());
  } else {
    m.type = t.type;
    m.data = t.data;
  }
  m.row_bytes = tensor_row_bytes(m.type, cols);
  return m;
}

const float* DiffusionWeights::values(const std::string& name, const std::vector<int64_t>& shape) {
  const TensorRef& t = require(name, shape);
  if (t.type == TensorType::F32) return reinterpret_cast<const float*>(t.data);
  auto& copy = owned_.emplace_back(static_cast<size_t>(t.elements()));
  to_f32(t, copy.data());
  return copy.data();
}

const uint16_t* DiffusionWeights::pack_panels(const MatrixView& w) {
  const int64_t cols = w.n_cols, n_panels = (w.n_rows + kPanelRows - 1) / kPanelRows;
  auto& panels = owned_half_.emplace_back(static_cast<size_t>(n_panels * kPanelRows * cols), uint16_t{0});
  std::vector<float> row(w.type == TensorType::Q8_0 ? static_cast<size_t>(cols) : 0);
  for (int64_t r = 0; r < w.n_rows; ++r) {
    uint16_t* dst = panels.data() + (r / kPanelRows) * kPanelRows * cols + r % kPanelRows;
    if (w.type == TensorType::Q8_0) scalar_kernels().dequantize_fn(TensorType::Q8_0)(w.row(r), row.data(), cols);
    for (int64_t k = 0; k < cols; ++k) {
      const uint16_t h = w.type == TensorType::F16   ? reinterpret_cast<const uint16_t*>(w.row(r))[k]
                         : w.type == TensorType::F32 ? fp32_to_fp16(reinterpret_cast<const float*>(w.row(r))[k])
                                                     : fp32_to_fp16(row[static_cast<size_t>(k)]);
      dst[k * kPanelRows] = h;
    }
  }
  return panels.data();
}

void DiffusionWeights::release_packed(const std::string& name, const MatrixView& w) {
  const TensorRef* t = source_.find(name);
  // Only the file's own bytes (not an aligned or converted copy) of a mapped file.
  if (!source_.maps_file() || !t || t->data != w.data) return;
  release_file_pages(w.data, w.row_bytes * static_cast<size_t>(w.n_rows));
}

Linear DiffusionWeights::linear(const std::string& prefix, int64_t n_out, int64_t n_in, bool bias) {
  return linear_named(prefix + ".weight", bias ? prefix + ".bias" : std::string(), n_out, n_in);
}

Linear DiffusionWeights::linear_named(const std::string& weight, const std::string& bias, int64_t n_out, int64_t n_in) {
  Linear l;
  l.w = matrix(weight, {n_out, n_in});
  if (!bias.empty()) l.b = vector(bias, n_out);
  // F32 and Q8_0 stay as stored (the shared matmul; Q8_0 products take activations quantized to Q8_0, as ggml's do).
  if (l.w.type == TensorType::F16) {
    l.panels = pack_panels(l.w);
    release_packed(weight, l.w);  // the product reads only the panels
  }
  return l;
}

Conv2d DiffusionWeights::conv(const std::string& prefix, int64_t c_out, int64_t c_in, int64_t kernel, int64_t stride) {
  const MatrixView w = matrix(prefix + ".weight", {c_out, c_in, kernel, kernel});
  Conv2d c;
  c.b = vector(prefix + ".bias", c_out);
  c.c_in = c_in, c.c_out = c_out, c.kernel = kernel, c.stride = stride;
  // Kernels run in F16 (F32 ones are rounded), as stable-diffusion.cpp stores every Conv2d kernel, repacked into
  // panels of 16 output channels for the convolution GEMM.
  c.panels = pack_panels(w);
  release_packed(prefix + ".weight", w);
  return c;
}

Norm DiffusionWeights::norm(const std::string& prefix, int64_t channels) {
  return {vector(prefix + ".weight", channels), vector(prefix + ".bias", channels)};
}

namespace {

// y [n, n_out] = x [n, n_cols] (f16 values) times the panels' rows, plus the bias: tasks of (tokens, outputs)
// blocks so that few tokens still use every thread.
void panel_matmul(const Compute& c, const uint16_t* panels, int64_t n_out, int64_t n_cols, const float* bias,
                  const float* x, int64_t n, float* y) {
  constexpr int64_t kTokensPerTask = 96, kPanelsPerTask = 4;
  const int64_t n_panels = (n_out + kPanelRows - 1) / kPanelRows;
  const int64_t groups = (n_panels + kPanelsPerTask - 1) / kPanelsPerTask;
  const int64_t token_blocks = (n + kTokensPerTask - 1) / kTokensPerTask;
  const KernelTable& kt = *c.kernels;
  c.pool->parallel_for(token_blocks * groups, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t tb = (task / groups) * kTokensPerTask, nt = std::min(kTokensPerTask, n - tb), g = task % groups;
      for (int64_t p = g * kPanelsPerTask; p < std::min(n_panels, (g + 1) * kPanelsPerTask); ++p) {
        const int rows = static_cast<int>(std::min<int64_t>(kPanelRows, n_out - p * kPanelRows));
        kt.f16_panel_gemm(panels + p * kPanelRows * n_cols, n_cols, rows, x + tb * n_cols, n_cols, nt,
                          y + tb * n_out + p * kPanelRows, n_out);
      }
      if (!bias) continue;
      const int64_t r1 = std::min(n_out, (g + 1) * kPanelsPerTask * kPanelRows);
      for (int64_t t = tb; t < tb + nt; ++t)
        for (int64_t r = g * kPanelsPerTask * kPanelRows; r < r1; ++r) y[t * n_out + r] += bias[r];
    }
  });
}

}  // namespace

void linear(const Compute& c, const Linear& l, const float* x, int64_t n, float* y) {
  if (!l.panels) {
    matmul(c, l.w, x, n, y);
    if (l.b) add_bias(y, l.b, n, l.w.n_rows);
    return;
  }
  // The inputs rounded to f16, as ggml's F16 products take them.
  const int64_t k = l.w.n_cols;
  float* rounded = static_cast<float*>(c.scratch->reserve(sizeof(float) * static_cast<size_t>(n * k)));
  const QuantizeRowFn to_f16 = c.kernels->quantize_fn(TensorType::F16);
  const DequantizeRowFn from_f16 = c.kernels->dequantize_fn(TensorType::F16);
  c.pool->parallel_for(n, 1, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<uint16_t> half;
    half.resize(static_cast<size_t>(k));
    for (int64_t t = t0; t < t1; ++t) {
      to_f16(x + t * k, half.data(), k);
      from_f16(half.data(), rounded + t * k, k);
    }
  });
  panel_matmul(c, l.panels, l.w.n_rows, k, l.b, rounded, n, y);
}

void conv2d(const Compute& c, const Conv2d& conv, const FeatureMap& in, FeatureMap& out, NnScratch& s) {
  if (in.channels != conv.c_in)
    throw std::logic_error("conv2d: input has " + std::to_string(in.channels) + " channels, kernel takes " +
                           std::to_string(conv.c_in));
  const int64_t k = conv.kernel, pad = k / 2, st = conv.stride, C = in.channels, co = conv.c_out;
  const int64_t oh = (in.height + 2 * pad - k) / st + 1, ow = (in.width + 2 * pad - k) / st + 1;
  out.resize(oh, ow, co);
  const int64_t cols = conv.columns();
  const int64_t chunk = std::max<int64_t>(1, kIm2colChunkFloats / cols);
  grow(s.columns, static_cast<size_t>(std::min(chunk, oh * ow) * cols));
  const KernelTable& kt = *c.kernels;
  const QuantizeRowFn to_f16 = kt.quantize_fn(TensorType::F16);
  const DequantizeRowFn from_f16 = kt.dequantize_fn(TensorType::F16);
  for (int64_t p0 = 0; p0 < oh * ow; p0 += chunk) {
    const int64_t n = std::min(chunk, oh * ow - p0);
    float* colbuf = s.columns.data();
    // im2col, each row rounded to f16 while in cache (the kernels take f16 inputs, as ggml's F16 convolutions do).
    c.pool->parallel_for(n, 16, [&](int64_t b, int64_t e) {
      thread_local std::vector<uint16_t> half;
      half.resize(static_cast<size_t>(cols));
      for (int64_t i = b; i < e; ++i) {
        const int64_t oy = (p0 + i) / ow, ox = (p0 + i) % ow;
        float* row = colbuf + i * cols;  // (c_in, ky, kx)
        for (int64_t ky = 0; ky < k; ++ky) {
          const int64_t iy = oy * st + ky - pad;
          for (int64_t kx = 0; kx < k; ++kx) {
            const int64_t ix = ox * st + kx - pad;
            float* dst = row + ky * k + kx;
            if (iy < 0 || iy >= in.height || ix < 0 || ix >= in.width) {
              for (int64_t ci = 0; ci < C; ++ci) dst[ci * k * k] = 0.f;
            } else {
              const float* src = in.data.data() + (iy * in.width + ix) * C;
              for (int64_t ci = 0; ci < C; ++ci) dst[ci * k * k] = src[ci];
            }
          }
        }
        to_f16(row, half.data(), cols);
        from_f16(half.data(), row, cols);
      }
    });
    panel_matmul(c, conv.panels, co, cols, conv.b, colbuf, n, out.data.data() + p0 * co);
  }
}

void group_norm(const Compute& c, const float* x, int64_t n_pixels, int64_t channels, int64_t groups, float eps,
                const Norm& norm, bool silu, float* out) {
  // Statistics of all groups in one pass over the pixels (rows are contiguous; a group's channels are not), each
  // thread summing its own range of pixels in double; then the normalisation, also by pixel ranges.
  const int64_t cg = channels / groups, n_threads = c.pool->size();
  const int64_t grain = std::max<int64_t>(1, (n_pixels + n_threads - 1) / n_threads);
  std::vector<double> partial(static_cast<size_t>(n_threads * groups));
  const auto sum_pass = [&](const std::vector<float>* mean) {
    std::fill(partial.begin(), partial.end(), 0.0);
    c.pool->parallel_for(n_pixels, grain, [&](int64_t p0, int64_t p1) {
      double* acc = partial.data() + ThreadPool::current_thread_index() * groups;
      for (int64_t p = p0; p < p1; ++p) {
        const float* row = x + p * channels;
        for (int64_t g = 0; g < groups; ++g) {
          double r = 0;
          if (mean) {
            const float m = (*mean)[static_cast<size_t>(g)];
            for (int64_t i = 0; i < cg; ++i) {
              const float v = row[g * cg + i] - m;
              r += static_cast<double>(v * v);
            }
          } else {
            for (int64_t i = 0; i < cg; ++i) r += row[g * cg + i];
          }
          acc[g] += r;
        }
      }
    });
    std::vector<float> result(static_cast<size_t>(groups));
    for (int64_t g = 0; g < groups; ++g) {
      double total = 0;
      for (int64_t t = 0; t < n_threads; ++t) total += partial[static_cast<size_t>(t * groups + g)];
      result[static_cast<size_t>(g)] = static_cast<float>(total / static_cast<double>(n_pixels * cg));
    }
    return result;
  };
  const std::vector<float> mean = sum_pass(nullptr);
  const std::vector<float> variance = sum_pass(&mean);
  std::vector<float> m(static_cast<size_t>(channels)), sc(static_cast<size_t>(channels));  // per channel
  for (int64_t ch = 0; ch < channels; ++ch) {
    const size_t g = static_cast<size_t>(ch / cg);
    m[static_cast<size_t>(ch)] = mean[g];
    sc[static_cast<size_t>(ch)] = 1.f / std::sqrt(variance[g] + eps);
  }
  c.pool->parallel_for(n_pixels, 64, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* row = x + p * channels;
      float* o = out + p * channels;
      for (int64_t ch = 0; ch < channels; ++ch) {
        float v = (row[ch] - m[static_cast<size_t>(ch)]) * sc[static_cast<size_t>(ch)] * norm.w[ch] + norm.b[ch];
        if (silu) v = v / (1.f + std::exp(-v));
        o[ch] = v;
      }
    }
  });
}

void upsample2x(const FeatureMap& in, FeatureMap& out) {
  out.resize(in.height * 2, in.width * 2, in.channels);
  const int64_t C = in.channels;
  for (int64_t y = 0; y < out.height; ++y)
    for (int64_t x = 0; x < out.width; ++x)
      std::copy_n(in.data.data() + ((y / 2) * in.width + x / 2) * C, C, out.data.data() + (y * out.width + x) * C);
}

void multi_head_attention(const Compute& c, const float* q, int64_t n_q, const float* k, const float* v, int64_t n_kv,
                          int64_t n_head, int64_t d, bool causal, float* out, NnScratch& s) {
  const int64_t E = n_head * d;
  const float scale = 1.f / std::sqrt(static_cast<float>(d));
  const int64_t n_blocks = (n_q + kQueryBlock - 1) / kQueryBlock;
  const size_t per_thread = static_cast<size_t>(kQueryBlock * (n_kv + d) + 16);
  grow(s.scores, per_thread * static_cast<size_t>(c.pool->size()));
  const KernelTable& kt = *c.kernels;
  const size_t row_bytes = static_cast<size_t>(E) * sizeof(float);
  c.pool->parallel_for(n_head * n_blocks, 1, [&](int64_t t0, int64_t t1) {
    float* sc = s.scores.data() + static_cast<size_t>(ThreadPool::current_thread_index()) * per_thread;
    float* qb = sc + kQueryBlock * n_kv;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t h = t / n_blocks, q0 = (t % n_blocks) * kQueryBlock, nq = std::min(kQueryBlock, n_q - q0);
      for (int64_t i = 0; i < nq; ++i) std::copy_n(q + (q0 + i) * E + h * d, d, qb + i * d);
      kt.key_scores_f32(qb, nq, d, k + h * d, row_bytes, n_kv, scale, sc, n_kv);
      for (int64_t i = 0; i < nq; ++i) {
        float* row = sc + i * n_kv;
        const int64_t seen = causal ? std::min(n_kv, q0 + i + 1) : n_kv;
        kt.softmax(row, seen, false);
        std::fill(row + seen, row + n_kv, 0.f);
        std::fill_n(out + (q0 + i) * E + h * d, d, 0.f);
      }
      kt.value_sum_f32(sc, nq, n_kv, v + h * d, row_bytes, n_kv, d, out + q0 * E + h * d, E);
    }
  });
}

void silu_inplace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.f + std::exp(-x[i]));
}

void quick_gelu_inplace(float* x, int64_t n) {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(1 << 16);
    for (uint32_t h = 0; h < t.size(); ++h) {
      const float f = fp16_to_fp32(static_cast<uint16_t>(h));
      t[h] = fp32_to_fp16(f * (1.f / (1.f + std::exp(-1.702f * f))));
    }
    return t;
  }();
  for (int64_t i = 0; i < n; ++i) x[i] = fp16_to_fp32(table[fp32_to_fp16(x[i])]);
}

std::vector<float> timestep_embedding(float t, int64_t dim) {
  const int64_t half = dim / 2;
  std::vector<float> e(static_cast<size_t>(dim), 0.f);
  for (int64_t j = 0; j < half; ++j) {
    const float freq = std::exp(-std::log(10000.f) * static_cast<float>(j) / static_cast<float>(half));
    const float arg = t * freq;
    e[static_cast<size_t>(j)] = std::cos(arg);
    e[static_cast<size_t>(j + half)] = std::sin(arg);
  }
  return e;
}

std::vector<float> to_planar(const FeatureMap& m) {
  std::vector<float> out(m.data.size());
  const int64_t n = m.pixels();
  for (int64_t p = 0; p < n; ++p)
    for (int64_t ch = 0; ch < m.channels; ++ch) out[static_cast<size_t>(ch * n + p)] = m.data[static_cast<size_t>(p * m.channels + ch)];
  return out;
}

FeatureMap from_planar(const float* planar, int64_t channels, int64_t height, int64_t width) {
  FeatureMap m;
  m.resize(height, width, channels);
  const int64_t n = height * width;
  for (int64_t p = 0; p < n; ++p)
    for (int64_t ch = 0; ch < channels; ++ch) m.data[static_cast<size_t>(p * channels + ch)] = planar[ch * n + p];
  return m;
}

}  // namespace fm
