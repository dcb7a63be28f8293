#pragma once
// Weight matrices repacked once at load into row-interleaved tiles for the AVX-512 GEMM kernels.
//
// Rows are taken 16 at a time (a "group", one output lane per row in a 512-bit register) and the columns in
// blocks of 32. A tile holds one block of one group, laid out so that each 64-byte register holds 4 consecutive
// columns of all 16 rows: one vpdpbusd then adds 4 products into each row's lane. Quantized values are stored
// unsigned (the format's offset is applied as a "min" term through the activation block sums), in the file's bit
// width, so decode reads about as many bytes as from the file. Scales go to a per-group header area after the
// tiles. Layouts, per group (16 rows, K columns, nb = K/32 blocks, ns = K/256 super-blocks):
//   kQ8  (Q8_0): tiles of 512 bytes, byte (4j + i) of row r in register j at j*64 + r*4 + i, value q + 128;
//                headers per block: 16 f16 d.
//   kQ4  (Q4_0): tiles of 256 nibble bytes: register p (0..3), byte r*4 + i holds column 8p+i (low nibble) and
//                8p+4+i (high nibble); headers per block: 16 f16 d.
//   kQ5  (Q5_0): nibble tile + 8 uint64 masks (bit r*4+i of mask j = bit 4 of column 4j+i); headers as kQ4.
//   kQ4K (Q4_K): nibble tiles; headers per super-block: 16 f16 d, 16 f16 dmin, sc[8][16] u8, m[8][16] u8.
//   kQ6K (Q6_K): nibble tile (low 4 bits) + 2 registers of high bit pairs (byte r*4+i of register h, bits 2j..2j+1
//                = bits 4-5 of column 4(4h+j)+i); headers per super-block: 16 f16 d, sc[16][16] i8.
//   kF16 (F16):  tiles of 32 columns x 16 rows of f16, column-major (column k at k*32 bytes).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "gguf/tensor_type.h"

namespace fm {

enum class PackedFormat : uint8_t { kQ8, kQ4, kQ5, kQ4K, kQ6K, kF16 };

constexpr int kPackRows = 16;
constexpr int kPackBlock = 32;

struct PackedLayout {
  int tile_bytes = 0;      // per 32-column block
  int header_bytes = 0;    // per header unit
  int blocks_per_unit = 1;  // blocks sharing one header unit (8 for the k-quants' super-blocks)
};
constexpr PackedLayout packed_layout(PackedFormat f) {
  switch (f) {
    case PackedFormat::kQ8: return {512, 32, 1};
    case PackedFormat::kQ4: return {256, 32, 1};
    case PackedFormat::kQ5: return {320, 32, 1};
    case PackedFormat::kQ4K: return {256, 320, 8};
    case PackedFormat::kQ6K: return {384, 288, 8};
    case PackedFormat::kF16: return {1024, 0, 1};
  }
  return {};
}

// A repacked matrix: n_groups groups of group_bytes each, 64-byte aligned.
class PackedMatrix {
 public:
  PackedFormat format = PackedFormat::kQ8;
  TensorType source_type = TensorType::F32;
  int64_t n_rows = 0, n_cols = 0;
  int64_t n_groups = 0;
  size_t group_bytes = 0;

  const uint8_t* group(int64_t g) const { return data_.get() + static_cast<size_t>(g) * group_bytes; }
  size_t bytes() const { return group_bytes * static_cast<size_t>(n_groups); }

  // The packed form of a [n_rows, n_cols] matrix of `type` stored row by row at `rows` (row_bytes apart), or
  // nullptr if the type or width has no packed format.
  static std::unique_ptr<PackedMatrix> pack(TensorType type, int64_t n_cols, int64_t n_rows, const uint8_t* rows,
                                            size_t row_bytes);
  static bool packable(TensorType type, int64_t n_cols);

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data_;
};

}  // namespace fm
