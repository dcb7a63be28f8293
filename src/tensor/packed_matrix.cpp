#include "tensor/packed_matrix.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "tensor/quant_blocks.h"

namespace fm {
namespace {

// One 32-column block of one row, as the packed tiles store it: unsigned values, before the format's offset.
struct RowBlock {
  uint8_t q[kPackBlock];
};

int q4_at(const uint8_t* qs, int i) { return i < 16 ? (qs[i] & 0xF) : (qs[i - 16] >> 4); }

// Values of block b of a row (unsigned form) for each source type.
void row_block(TensorType type, const uint8_t* row, int64_t b, RowBlock* out) {
  switch (type) {
    case TensorType::Q8_0: {
      const auto& blk = reinterpret_cast<const BlockQ8_0*>(row)[b];
      for (int i = 0; i < kQK; ++i) out->q[i] = static_cast<uint8_t>(blk.qs[i] + 128);
      break;
    }
    case TensorType::Q4_0: {
      const auto& blk = reinterpret_cast<const BlockQ4_0*>(row)[b];
      for (int i = 0; i < kQK; ++i) out->q[i] = static_cast<uint8_t>(q4_at(blk.qs, i));
      break;
    }
    case TensorType::Q5_0: {
      const auto& blk = reinterpret_cast<const BlockQ5_0*>(row)[b];
      uint32_t qh;
      std::memcpy(&qh, blk.qh, 4);
      for (int i = 0; i < kQK; ++i) out->q[i] = static_cast<uint8_t>(q4_at(blk.qs, i) | (((qh >> i) & 1) << 4));
      break;
    }
    case TensorType::Q4_K: {
      const auto& blk = reinterpret_cast<const BlockQ4_K*>(row)[b / 8];
      const int sub = static_cast<int>(b % 8), chunk = sub / 2, shift = 4 * (sub & 1);
      for (int i = 0; i < kQK; ++i) out->q[i] = static_cast<uint8_t>((blk.qs[32 * chunk + i] >> shift) & 0xF);
      break;
    }
    case TensorType::Q6_K: {
      const auto& blk = reinterpret_cast<const BlockQ6_K*>(row)[b / 8];
      for (int i = 0; i < kQK; ++i) {
        const int l = static_cast<int>(b % 8) * 32 + i;
        const int half = l / 128, r = l % 128, quarter = r / 32, e = r % 32;
        const uint8_t low_byte = blk.ql[64 * half + (quarter & 1) * 32 + e];
        const int low = (quarter < 2) ? (low_byte & 0xF) : (low_byte >> 4);
        out->q[i] = static_cast<uint8_t>(low | (((blk.qh[32 * half + e] >> (2 * quarter)) & 3) << 4));
      }
      break;
    }
    default: std::abort();
  }
}

uint16_t block_d(TensorType type, const uint8_t* row, int64_t b) {
  switch (type) {
    case TensorType::Q8_0: return reinterpret_cast<const BlockQ8_0*>(row)[b].d;
    case TensorType::Q4_0: return reinterpret_cast<const BlockQ4_0*>(row)[b].d;
    case TensorType::Q5_0: return reinterpret_cast<const BlockQ5_0*>(row)[b].d;
    default: std::abort();
  }
}

// Nibble tile: register p, byte r*4+i = column 8p+i (low) | column 8p+4+i (high).
void put_nibbles(uint8_t* tile, int r, const RowBlock& v) {
  for (int p = 0; p < 4; ++p)
    for (int i = 0; i < 4; ++i)
      tile[p * 64 + r * 4 + i] = static_cast<uint8_t>((v.q[8 * p + i] & 0xF) | ((v.q[8 * p + 4 + i] & 0xF) << 4));
}

void pack_group(PackedFormat f, TensorType type, int64_t n_cols, const uint8_t* rows, size_t row_bytes, int n_valid,
                uint8_t* out) {
  const PackedLayout L = packed_layout(f);
  const int64_t nb = n_cols / kPackBlock;
  uint8_t* headers = out + nb * L.tile_bytes;
  if (f == PackedFormat::kF16) {
    for (int r = 0; r < n_valid; ++r) {
      const uint16_t* src = reinterpret_cast<const uint16_t*>(rows + static_cast<size_t>(r) * row_bytes);
      for (int64_t k = 0; k < n_cols; ++k) std::memcpy(out + (k * kPackRows + r) * 2, src + k, 2);
    }
    return;
  }
  RowBlock v;
  for (int r = 0; r < n_valid; ++r) {
    const uint8_t* row = rows + static_cast<size_t>(r) * row_bytes;
    for (int64_t b = 0; b < nb; ++b) {
      row_block(type, row, b, &v);
      uint8_t* tile = out + b * L.tile_bytes;
      switch (f) {
        case PackedFormat::kQ8:
          for (int j = 0; j < 8; ++j) std::memcpy(tile + j * 64 + r * 4, v.q + 4 * j, 4);
          break;
        case PackedFormat::kQ4:
        case PackedFormat::kQ4K: put_nibbles(tile, r, v); break;
        case PackedFormat::kQ5:
          put_nibbles(tile, r, v);
          for (int j = 0; j < 8; ++j)
            for (int i = 0; i < 4; ++i)
              if (v.q[4 * j + i] & 0x10) tile[256 + j * 8 + (r * 4 + i) / 8] |= static_cast<uint8_t>(1u << ((r * 4 + i) % 8));
          break;
        case PackedFormat::kQ6K:
          put_nibbles(tile, r, v);
          for (int h = 0; h < 2; ++h)
            for (int j = 0; j < 4; ++j)
              for (int i = 0; i < 4; ++i)
                tile[256 + h * 64 + r * 4 + i] |= static_cast<uint8_t>(((v.q[4 * (4 * h + j) + i] >> 4) & 3) << (2 * j));
          break;
        case PackedFormat::kF16: break;
      }
      if (f == PackedFormat::kQ8 || f == PackedFormat::kQ4 || f == PackedFormat::kQ5) {
        const uint16_t d = block_d(type, row, b);
        std::memcpy(headers + b * L.header_bytes + r * 2, &d, 2);
      }
    }
    if (f == PackedFormat::kQ4K) {
      for (int64_t s = 0; s < nb / 8; ++s) {
        const auto& blk = reinterpret_cast<const BlockQ4_K*>(row)[s];
        uint8_t* h = headers + s * L.header_bytes;
        std::memcpy(h + r * 2, &blk.d, 2);
        std::memcpy(h + 32 + r * 2, &blk.dmin, 2);
        for (int j = 0; j < 8; ++j) kquant_scale_min(j, blk.scales, h + 64 + j * 16 + r, h + 192 + j * 16 + r);
      }
    } else if (f == PackedFormat::kQ6K) {
      for (int64_t s = 0; s < nb / 8; ++s) {
        const auto& blk = reinterpret_cast<const BlockQ6_K*>(row)[s];
        uint8_t* h = headers + s * L.header_bytes;
        std::memcpy(h + r * 2, &blk.d, 2);
        for (int j = 0; j < 16; ++j) h[32 + j * 16 + r] = static_cast<uint8_t>(blk.scales[j]);
      }
    }
  }
}

bool format_for(TensorType type, PackedFormat* f) {
  switch (type) {
    case TensorType::Q8_0: *f = PackedFormat::kQ8; return true;
    case TensorType::Q4_0: *f = PackedFormat::kQ4; return true;
    case TensorType::Q5_0: *f = PackedFormat::kQ5; return true;
    case TensorType::Q4_K: *f = PackedFormat::kQ4K; return true;
    case TensorType::Q6_K: *f = PackedFormat::kQ6K; return true;
    case TensorType::F16: *f = PackedFormat::kF16; return true;
    default: return false;
  }
}

}  // namespace

bool PackedMatrix::packable(TensorType type, int64_t n_cols) {
  PackedFormat f;
  if (!format_for(type, &f) || n_cols <= 0) return false;
  return n_cols % (kPackBlock * packed_layout(f).blocks_per_unit) == 0;
}

void PackedMatrix::Free::operator()(uint8_t* p) const { std::free(p); }

std::unique_ptr<PackedMatrix> PackedMatrix::pack(TensorType type, int64_t n_cols, int64_t n_rows, const uint8_t* rows,
                                                 size_t row_bytes) {
  if (!packable(type, n_cols) || n_rows <= 0) return nullptr;
  auto m = std::make_unique<PackedMatrix>();
  format_for(type, &m->format);
  m->source_type = type;
  m->n_rows = n_rows;
  m->n_cols = n_cols;
  m->n_groups = (n_rows + kPackRows - 1) / kPackRows;
  const PackedLayout L = packed_layout(m->format);
  const int64_t nb = n_cols / kPackBlock;
  const size_t raw = static_cast<size_t>(nb * L.tile_bytes + nb / L.blocks_per_unit * L.header_bytes);
  m->group_bytes = (raw + 63) & ~size_t{63};
  // Huge-page alignment lets the kernel back large matrices with 2 MiB pages (fewer TLB misses while streaming).
  constexpr size_t kAlign = size_t{2} << 20;
  const size_t total = (m->bytes() + kAlign - 1) & ~(kAlign - 1);
  void* p = std::aligned_alloc(kAlign, total);
  if (!p) throw std::bad_alloc();
  if (total >= kAlign) madvise(p, total, MADV_HUGEPAGE);
  std::memset(p, 0, total);
  m->data_.reset(static_cast<uint8_t*>(p));
  auto pack_groups = [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t r0 = g * kPackRows;
      const int n_valid = static_cast<int>(n_rows - r0 < kPackRows ? n_rows - r0 : kPackRows);
      pack_group(m->format, type, n_cols, rows + static_cast<size_t>(r0) * row_bytes, row_bytes, n_valid,
                 m->data_.get() + static_cast<size_t>(g) * m->group_bytes);
    }
  };
  // Loading a model packs every matrix once; large ones are split over the machine's cores.
  const int64_t threads = std::min<int64_t>(std::max(1u, std::thread::hardware_concurrency()), 8);
  if (threads == 1 || m->bytes() < (size_t{4} << 20)) {
    pack_groups(0, m->n_groups);
    return m;
  }
  std::vector<std::thread> workers;
  const int64_t per = (m->n_groups + threads - 1) / threads;
  for (int64_t i = 1; i < threads; ++i)
    workers.emplace_back(pack_groups, std::min(m->n_groups, i * per), std::min(m->n_groups, (i + 1) * per));
  pack_groups(0, std::min(m->n_groups, per));
  for (auto& w : workers) w.join();
  return m;
}

}  // namespace fm
