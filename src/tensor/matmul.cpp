#include "tensor/matmul.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "tensor/fp16.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm {

void* ScratchBuffer::reserve(size_t bytes) {
  const size_t words = (bytes + 64 + 7) / 8;
  if (storage_.size() < words) storage_.assign(words, 0);
  const uintptr_t base = reinterpret_cast<uintptr_t>(storage_.data());
  offset_ = ((base + 63) & ~uintptr_t{63}) - base;
  return reinterpret_cast<uint8_t*>(storage_.data()) + offset_;
}

void matmul(const Compute& c, const MatrixView& w, const float* x, int64_t n_tok, float* y) {
  const KernelTable& k = *c.kernels;
  if (w.packed && k.packed_matmul) {
    const PackedMatrix* p = w.packed;
    k.packed_matmul(c, &p, &y, 1, x, n_tok);
    return;
  }
  if (w.type == TensorType::F16 && k.f16_gemm && w.n_cols % 8 == 0) {
    // Activations rounded to f16 (what ggml's F16 dot takes), kept as f32 for the register-blocked kernel.
    float* act = static_cast<float*>(c.scratch->reserve(sizeof(float) * static_cast<size_t>(n_tok * w.n_cols)));
    const QuantizeRowFn to_f16 = k.quantize_fn(TensorType::F16);
    const DequantizeRowFn from_f16 = k.dequantize_fn(TensorType::F16);
    constexpr int64_t kChunk = 4096;
    c.pool->parallel_for(n_tok * w.n_cols, kChunk, [&](int64_t i0, int64_t i1) {
      uint16_t half[kChunk];
      to_f16(x + i0, half, i1 - i0);
      from_f16(half, act + i0, i1 - i0);
    });
    // A block of tokens small enough to stay in L2 (about 128 KiB) while a tile's rows pass over it.
    constexpr int64_t kRowsPerTile = 16;
    const int64_t tokens_per_block = std::clamp<int64_t>((int64_t{128} << 10) / (4 * w.n_cols) / 4 * 4, 4, 64);
    c.pool->parallel_for(w.n_rows, kRowsPerTile, [&](int64_t r0, int64_t r1) {
      for (int64_t tb = 0; tb < n_tok; tb += tokens_per_block)
        k.f16_gemm(w.data, w.row_bytes, r0, r1, w.n_cols, act + tb * w.n_cols, std::min(tokens_per_block, n_tok - tb),
                   y + tb * w.n_rows, w.n_rows);
    });
    return;
  }
  const TensorType act_type = vec_dot_type(w.type);
  const VecDotFn dot = k.vec_dot_fn(w.type);
  const QuantizeRowFn quantize = k.quantize_fn(act_type);
  if (!dot || !quantize) throw std::runtime_error("no kernel for weight type " + std::string(tensor_type_name(w.type)));

  const size_t act_row_bytes = tensor_row_bytes(act_type, w.n_cols);
  uint8_t* act = static_cast<uint8_t*>(c.scratch->reserve(act_row_bytes * static_cast<size_t>(n_tok)));
  c.pool->parallel_for(n_tok, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) quantize(x + t * w.n_cols, act + t * act_row_bytes, w.n_cols);
  });

  // Tiles of rows x blocks of tokens: a tile's weights are read once from memory, and each block of activations
  // stays in cache while the tile's rows pass over it (every output is still one dot, whatever the blocking).
  constexpr int64_t kRowsPerTile = 16;
  const int64_t tokens_per_block = std::max<int64_t>(1, static_cast<int64_t>((size_t{128} << 10) / act_row_bytes));
  const VecDotTokensFn dot_tokens = k.vec_dot_tokens_fn(w.type);
  // One token (decode) reads each weight row once and nothing else: chunks of 64 rows give each thread longer runs
  // of consecutive memory between the chunks the other threads take.
  const int64_t grain = n_tok == 1 ? 4 * kRowsPerTile : kRowsPerTile;
  c.pool->parallel_for(w.n_rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t tb = 0; tb < n_tok; tb += tokens_per_block) {
      const int64_t te = std::min(n_tok, tb + tokens_per_block);
      for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = w.row(r);
        if (!dot_tokens) {
          for (int64_t t = tb; t < te; ++t) y[t * w.n_rows + r] = dot(w.n_cols, row, act + t * act_row_bytes);
          continue;
        }
        for (int64_t t = tb; t < te; t += 4) {  // four tokens share each weight block's unpacking
          const int n_act = static_cast<int>(std::min<int64_t>(4, te - t));
          float out[4];
          dot_tokens(w.n_cols, row, act + t * act_row_bytes, act_row_bytes, n_act, out);
          for (int i = 0; i < n_act; ++i) y[(t + i) * w.n_rows + r] = out[i];
        }
      }
    }
  });
}

void matmul_shared_input(const Compute& c, std::initializer_list<const MatrixView*> w, std::initializer_list<float*> y,
                         const float* x, int64_t n_tok) {
  if (w.size() != y.size() || w.size() > 8) throw std::invalid_argument("matmul_shared_input: bad matrix count");
  const PackedMatrix* packed[8];
  bool all_packed = c.kernels->packed_matmul != nullptr;
  int n = 0;
  for (const MatrixView* m : w) {
    if (m->n_cols != (*w.begin())->n_cols) throw std::invalid_argument("matmul_shared_input: widths differ");
    all_packed = all_packed && m->packed;
    packed[n++] = m->packed;
  }
  if (all_packed) {
    c.kernels->packed_matmul(c, packed, y.begin(), n, x, n_tok);
    return;
  }
  auto out = y.begin();
  for (const MatrixView* m : w) matmul(c, *m, x, n_tok, *out++);
}

void dequantize_row(const KernelTable& k, const MatrixView& w, int64_t r, float* dst) {
  k.dequantize_fn(w.type)(w.row(r), dst, w.n_cols);
}

}  // namespace fm
