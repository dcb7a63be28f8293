#pragma once
// Prompt rows of F16 products through AMX bf16 tiles (see packed_gemm_f16_amx.cpp); used by the packed GEMM.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace fm {

// bf16 activations of the prompt rows [row0, row0 + n) of a call, block-major so that a tile's 16 tokens are
// contiguous: token t's block b is at data + (b * rows + t - row0) * 64, its 32 hi values then its 32 lo values.
struct Bf16Activations {
  const uint16_t* data = nullptr;
  int64_t row0 = 0;
  int64_t rows = 0;  // prompt rows plus padding for the tiles past the last one
};

// Rows of activations rounded to f16 (as the FMA kernel rounds them), then split: row i of x goes to token slot
// t0 + i of the block-major layout with `rows` token slots.
void split_activations(const float* x, int64_t K, int64_t n, uint16_t* out, int64_t rows, int64_t t0);

// One output group of a call: its packed weights, its first output column in y, the output row stride, its valid
// rows.
struct GroupOut {
  const uint8_t* weights;
  float* y;
  int64_t ldy;
  __mmask16 rows;
};

constexpr int kBf16Groups = 8;  // groups per f16_amx_groups call

// Per-thread work space of f16_amx_groups for n_prompt prompt rows.
size_t f16_amx_work_bytes(int64_t n_prompt);

// The prompt rows of an F16 product for up to kBf16Groups groups of K = nb * 32 columns; `work`:
// f16_amx_work_bytes, 64-byte aligned, owned by the calling thread.
void f16_amx_groups(const GroupOut* groups, int n_groups, int64_t nb, const Bf16Activations& a, int64_t n_tok,
                    uint8_t* work);

}  // namespace fm
