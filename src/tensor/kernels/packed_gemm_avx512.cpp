// GEMM on packed weights (tensor/packed_matrix.h) for AVX-512 VNNI, with AMX tiles where the CPU has them.
// One output register holds 16 rows of one token; a micro-kernel computes 16 rows x up to 8 tokens, decoding each
// weight tile once and reusing it for every token. Quantized weights are multiplied with 8-bit activations by
// vpdpbusd (exact int32 block sums); each block sum is then scaled in float:
//   acc += isum * (w_scale * a_scale) - w_min * (a_scale * sum(a)).
// Every token's result is computed by the same sequence of float operations whatever the number of tokens in the
// call (the AMX int8 tiles produce the same exact block sums and share the float code), so a sequence decoded
// alone and inside a batch gets bit-identical logits.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "tensor/fp16.h"
#include "tensor/kernels/amx_tiles.h"
#include "tensor/kernels/cpu_features.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/kernels/packed_gemm_f16_amx.h"
#include "tensor/matmul.h"
#include "tensor/packed_matrix.h"
#include "tensor/quant_blocks.h"
#include "tensor/thread_pool.h"

namespace fm {
namespace {

constexpr int kMaxTokTile = 8;      // tokens per vpdpbusd micro-kernel call
constexpr int64_t kTokChunk = 64;   // tokens whose activations stay in L2 while a thread walks its row groups

// Weights are streamed from memory once per call when few tokens share them (decode); the hardware prefetchers
// alone leave a core's streams ~25% below the bandwidth it reaches with software prefetches this far ahead
// (measured with bench/gemm_bench on a 150k-row matrix). With more tokens per tile the kernels are
// compute-bound and the prefetches only cost issue slots.
constexpr int kPrefetchAhead = 8192;
constexpr int kPrefetchTokens = 2;
inline void prefetch(const uint8_t* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }

// Quantized activations, block-major so the tokens of a tile sit side by side: block b of token t has its 32
// int8 values at q + (b * n_tok + t) * 32 and its floats {scale, scale * sum, scale * sum of each 16-half} at
// meta + (b * n_tok + t) * 4. (Q8_0 activations leave the 16-half sums unset; only the k-quants use them.)
struct ActView {
  const int8_t* q = nullptr;
  const float* meta = nullptr;
  int64_t n_tok = 0;
  int64_t nb = 0;  // 32-column blocks per row
};

inline __m512i bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
inline __m512i load512(const uint8_t* p) { return _mm512_loadu_si512(p); }
inline __m512 f16x16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 u8x16(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline __m512 i8x16(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// Nibble tile -> 8 registers of 4 columns x 16 rows (register j = columns 4j..4j+3).
inline void unpack_nibbles(const uint8_t* tile, __m512i w[8]) {
  const __m512i low = _mm512_set1_epi8(0x0F);
  for (int p = 0; p < 4; ++p) {
    const __m512i v = load512(tile + 64 * p);
    w[2 * p] = _mm512_and_si512(v, low);
    w[2 * p + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
  }
}

// Decoders: for block jb of a header unit, the 8 weight registers, and per sub-block the row scales and the
// "min" (what multiplies the activation sum, including the format's offset).
// The legacy formats: one f16 scale per row and block; the offset of the unsigned values (128 for Q8_0, 8 for
// Q4_0, 16 for Q5_0) becomes the min.
template <PackedFormat F, int kOffset>
struct LegacyDecoder {
  static constexpr int kTileBytes = packed_layout(F).tile_bytes, kHeaderBytes = packed_layout(F).header_bytes;
  static constexpr int kBlocksPerUnit = 1, kSubs = 1;
  using Unit = const uint8_t*;
  static Unit unit(const uint8_t* h) { return h; }
  static void scales(Unit h, __m512 sc[1], __m512 mn[1]) {
    sc[0] = f16x16(h);
    mn[0] = _mm512_mul_ps(sc[0], _mm512_set1_ps(static_cast<float>(kOffset)));
  }
};

struct DecQ8 : LegacyDecoder<PackedFormat::kQ8, 128> {
  static void block(const uint8_t* tile, Unit h, int, __m512i w[8], __m512 sc[1], __m512 mn[1]) {
    for (int j = 0; j < 8; ++j) w[j] = load512(tile + 64 * j);
    scales(h, sc, mn);
  }
};

struct DecQ4 : LegacyDecoder<PackedFormat::kQ4, 8> {
  static void block(const uint8_t* tile, Unit h, int, __m512i w[8], __m512 sc[1], __m512 mn[1]) {
    unpack_nibbles(tile, w);
    scales(h, sc, mn);
  }
};

struct DecQ5 : LegacyDecoder<PackedFormat::kQ5, 16> {
  static void block(const uint8_t* tile, Unit h, int, __m512i w[8], __m512 sc[1], __m512 mn[1]) {
    unpack_nibbles(tile, w);
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    for (int j = 0; j < 8; ++j) {
      uint64_t bits;
      std::memcpy(&bits, tile + 256 + 8 * j, 8);
      w[j] = _mm512_mask_add_epi8(w[j], _cvtu64_mask64(bits), w[j], bit4);
    }
    scales(h, sc, mn);
  }
};

struct DecQ4K {
  static constexpr int kTileBytes = packed_layout(PackedFormat::kQ4K).tile_bytes;
  static constexpr int kHeaderBytes = packed_layout(PackedFormat::kQ4K).header_bytes, kBlocksPerUnit = 8, kSubs = 1;
  struct Unit {
    __m512 d, dmin;
    const uint8_t* h;
  };
  static Unit unit(const uint8_t* h) { return {f16x16(h), f16x16(h + 32), h}; }
  static void block(const uint8_t* tile, const Unit& u, int jb, __m512i w[8], __m512 sc[1], __m512 mn[1]) {
    unpack_nibbles(tile, w);
    sc[0] = _mm512_mul_ps(u.d, u8x16(u.h + 64 + 16 * jb));
    mn[0] = _mm512_mul_ps(u.dmin, u8x16(u.h + 192 + 16 * jb));
  }
};

struct DecQ6K {
  static constexpr int kTileBytes = packed_layout(PackedFormat::kQ6K).tile_bytes;
  static constexpr int kHeaderBytes = packed_layout(PackedFormat::kQ6K).header_bytes, kBlocksPerUnit = 8, kSubs = 2;
  struct Unit {
    __m512 d;
    const uint8_t* h;
  };
  static Unit unit(const uint8_t* h) { return {f16x16(h), h}; }
  // Q6_K scales each 16-column half separately: one half at a time (weight registers for columns 16s..16s+15),
  // so only four weight registers are live.
  static void half(const uint8_t* tile, const Unit& u, int jb, int s, __m512i w[4], __m512* sc, __m512* mn) {
    const __m512i low = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    for (int p = 0; p < 2; ++p) {
      const __m512i v = load512(tile + 64 * (2 * s + p));
      w[2 * p] = _mm512_and_si512(v, low);
      w[2 * p + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
    }
    const __m512i hb = load512(tile + 256 + 64 * s);
    w[0] = _mm512_ternarylogic_epi32(w[0], _mm512_slli_epi16(hb, 4), m30, 0xF8);
    w[1] = _mm512_ternarylogic_epi32(w[1], _mm512_slli_epi16(hb, 2), m30, 0xF8);
    w[2] = _mm512_ternarylogic_epi32(w[2], hb, m30, 0xF8);
    w[3] = _mm512_ternarylogic_epi32(w[3], _mm512_srli_epi16(hb, 2), m30, 0xF8);
    *sc = _mm512_mul_ps(u.d, i8x16(u.h + 32 + 16 * (2 * jb + s)));
    *mn = _mm512_mul_ps(*sc, _mm512_set1_ps(32.f));
  }
};

// The float scaling of a block's exact integer sums, shared by every quantized kernel (vpdpbusd and AMX) so their
// results stay bit-identical: acc + isum * (w_scale * a_scale) - w_min * a_sum.
inline __m512 add_scaled_block(__m512 acc, __m512i isum, __m512 w_scale, __m512 w_min, float a_scale, float a_sum) {
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(w_scale, _mm512_set1_ps(a_scale)), acc);
  return _mm512_fnmadd_ps(w_min, _mm512_set1_ps(a_sum), acc);
}

template <class D, int T>
void quant_tile(const uint8_t* group, const ActView& a, int64_t t0, float* y, int64_t ldy, __mmask16 rows) {
  constexpr int kPer = 8 / D::kSubs;  // weight registers per sub-block
  const int64_t nb = a.nb;
  __m512 acc[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  const uint8_t* headers = group + nb * D::kTileBytes;
  const uint8_t* q_blk = reinterpret_cast<const uint8_t*>(a.q) + t0 * 32;
  const float* m_blk = a.meta + t0 * 4;
  for (int64_t u = 0; u < nb / D::kBlocksPerUnit; ++u) {
    const auto unit = D::unit(headers + u * D::kHeaderBytes);
    for (int jb = 0; jb < D::kBlocksPerUnit; ++jb) {
      const int64_t b = u * D::kBlocksPerUnit + jb;
      if constexpr (T <= kPrefetchTokens)
        for (int l = 0; l < D::kTileBytes; l += 64) prefetch(group + b * D::kTileBytes + kPrefetchAhead + l);
#pragma GCC unroll 2
      for (int s = 0; s < D::kSubs; ++s) {
        // Weight registers of this sub-block: the whole block at once, or one half of it (Q6_K).
        __m512i w[8];
        __m512 sc[D::kSubs], mn[D::kSubs];
        const __m512i* ws = w;
        if constexpr (D::kSubs == 1) {
          D::block(group + b * D::kTileBytes, unit, jb, w, sc, mn);
        } else {
          D::half(group + b * D::kTileBytes, unit, jb, s, w, &sc[s], &mn[s]);
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          const uint8_t* q = q_blk + t * 32 + s * 4 * kPer;
          const float* m = m_blk + t * 4;
          // Integer sums are exact, so how the chain is split does not change results: two chains hide the
          // vpdpbusd latency when few tokens share the tile, one keeps register pressure low when many do.
          __m512i is;
          if constexpr (T < 4) {
            __m512i is0 = _mm512_setzero_si512(), is1 = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int j = 0; j < kPer; j += 2) {
              is0 = _mm512_dpbusd_epi32(is0, ws[j], bcast4(q + 4 * j));
              is1 = _mm512_dpbusd_epi32(is1, ws[j + 1], bcast4(q + 4 * j + 4));
            }
            is = _mm512_add_epi32(is0, is1);
          } else {
            is = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int j = 0; j < kPer; ++j) is = _mm512_dpbusd_epi32(is, ws[j], bcast4(q + 4 * j));
          }
          const float dsum = D::kSubs == 1 ? m[1] : m[2 + s];
          acc[t] = add_scaled_block(acc[t], is, sc[s], mn[s], m[0], dsum);
        }
      }
      q_blk += a.n_tok * 32;
      m_blk += a.n_tok * 4;
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * ldy, rows, acc[t]);
}

template <int T>
void f16_tile(const uint8_t* group, int64_t n_cols, const float* x, int64_t t0, float* y, int64_t ldy,
              __mmask16 rows) {
  __m512 a0[T], a1[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) a0[t] = a1[t] = _mm512_setzero_ps();
  for (int64_t k = 0; k < n_cols; k += 2) {
    if constexpr (T <= kPrefetchTokens) prefetch(group + k * 32 + kPrefetchAhead);
    const __m512 w0 = f16x16(group + k * 32), w1 = f16x16(group + k * 32 + 32);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const float* xt = x + (t0 + t) * n_cols + k;
      a0[t] = _mm512_fmadd_ps(w0, _mm512_set1_ps(xt[0]), a0[t]);
      a1[t] = _mm512_fmadd_ps(w1, _mm512_set1_ps(xt[1]), a1[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * ldy, rows, _mm512_add_ps(a0[t], a1[t]));
}

// ---- AMX ----------------------------------------------------------------------------------------------------
// With AMX the block sums of 16 tokens x 16 rows come from one tile product (activations as the signed A tile,
// the decoded weight registers as the unsigned B tile, which is their register layout); the float scaling that
// follows is the per-token code above, so results are bit-identical to the vpdpbusd path.
constexpr int kAmxMinTokens = 4;  // below this the vpdpbusd tiles are faster

// A group's weights decoded once for all the AMX tiles of a chunk: per block the B tile (the 8 weight registers,
// 512 bytes) then the row scales and mins (16 f32 each). Tile loads read them long after they were written (a
// tile load right after vector stores to the same lines waits for those stores).
constexpr int kAmxBlockBytes = 512 + 2 * 64;

template <class D>
void decode_group_for_amx(const uint8_t* group, int64_t nb, uint8_t* out) {
  static_assert(D::kSubs == 1, "AMX tiles take whole 32-column blocks");
  const uint8_t* headers = group + nb * D::kTileBytes;
  for (int64_t u = 0; u < nb / D::kBlocksPerUnit; ++u) {
    const auto unit = D::unit(headers + u * D::kHeaderBytes);
    for (int jb = 0; jb < D::kBlocksPerUnit; ++jb) {
      const int64_t b = u * D::kBlocksPerUnit + jb;
      __m512i w[8];
      __m512 sc[1], mn[1];
      D::block(group + b * D::kTileBytes, unit, jb, w, sc, mn);
      uint8_t* o = out + b * kAmxBlockBytes;
      for (int j = 0; j < 8; ++j) _mm512_store_si512(o + 64 * j, w[j]);
      _mm512_store_ps(o + 512, sc[0]);
      _mm512_store_ps(o + 576, mn[0]);
    }
  }
}

// N (8 or 16) token rows of one group over all blocks; n <= N of them are stored. Even blocks' tile products go to
// tmm0, odd ones' to tmm1, and each block's sums are scaled (in float, exactly as the vpdpbusd tiles scale theirs)
// while the next block's product runs, so the scaling does not wait on the tile store just issued.
template <int N>
void amx_tile(const uint8_t* decoded, const ActView& a, int64_t t0, int n, float* y, int64_t ldy, __mmask16 rows) {
  configure_tiles(TileUse::kInt8);
  alignas(64) int32_t sums[2][kAmxTokens][16];
  const int64_t nb = a.nb, q_step = a.n_tok * 32, m_step = a.n_tok * 4;
  __m512 acc[N];
#pragma GCC unroll 16
  for (int t = 0; t < N; ++t) acc[t] = _mm512_setzero_ps();
  // Rows past the last token read the padding after the activations; their sums are computed and dropped.
  const uint8_t* q = reinterpret_cast<const uint8_t*>(a.q) + t0 * 32;
  const float* m_blk = a.meta + t0 * 4;
  for (int64_t b = 0; b <= nb; ++b) {
    if (b < nb) {
      _tile_loadd(3, decoded + b * kAmxBlockBytes, 64);
      _tile_loadd(2, q + b * q_step, 32);
      if (b % 2 == 0) {
        _tile_zero(0);
        _tile_dpbsud(0, 2, 3);
        _tile_stored(0, sums[0], 64);
      } else {
        _tile_zero(1);
        _tile_dpbsud(1, 2, 3);
        _tile_stored(1, sums[1], 64);
      }
    }
    if (b > 0) {
      const uint8_t* o = decoded + (b - 1) * kAmxBlockBytes;
      const __m512 sc = _mm512_load_ps(o + 512), mn = _mm512_load_ps(o + 576);
      const int32_t(*s)[16] = sums[(b - 1) % 2];
#pragma GCC unroll 16
      for (int t = 0; t < N; ++t) {
        const float* m = m_blk + t * 4;
        acc[t] = add_scaled_block(acc[t], _mm512_load_si512(s[t]), sc, mn, m[0], m[1]);
      }
      m_blk += m_step;
    }
  }
  for (int t = 0; t < n; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * ldy, rows, acc[t]);
}

// The same products when a chunk has a single tile of tokens (batched decode, short prompts): nothing to reuse a
// decoded buffer, so each block is decoded in registers right before its product, and the weight stream from
// memory overlaps the tile work.
template <class D, int N>
void amx_tile_streaming(const uint8_t* group, const ActView& a, int64_t t0, int n, float* y, int64_t ldy,
                        __mmask16 rows) {
  configure_tiles(TileUse::kInt8);
  static_assert(D::kSubs == 1, "AMX tiles take whole 32-column blocks");
  alignas(64) int32_t sums[kAmxTokens][16];
  alignas(64) uint8_t wbuf[8][64];
  const int64_t nb = a.nb;
  __m512 acc[N];
#pragma GCC unroll 16
  for (int t = 0; t < N; ++t) acc[t] = _mm512_setzero_ps();
  const uint8_t* headers = group + nb * D::kTileBytes;
  const uint8_t* q_blk = reinterpret_cast<const uint8_t*>(a.q) + t0 * 32;
  const float* m_blk = a.meta + t0 * 4;
  for (int64_t u = 0; u < nb / D::kBlocksPerUnit; ++u) {
    const auto unit = D::unit(headers + u * D::kHeaderBytes);
    for (int jb = 0; jb < D::kBlocksPerUnit; ++jb) {
      const int64_t b = u * D::kBlocksPerUnit + jb;
      __m512i w[8];
      __m512 sc[1], mn[1];
      D::block(group + b * D::kTileBytes, unit, jb, w, sc, mn);
      for (int j = 0; j < 8; ++j) _mm512_store_si512(wbuf[j], w[j]);
      _tile_loadd(3, wbuf, 64);
      _tile_loadd(2, q_blk, 32);
      _tile_zero(0);
      _tile_dpbsud(0, 2, 3);
      _tile_stored(0, sums, 64);
#pragma GCC unroll 16
      for (int t = 0; t < N; ++t) {
        const float* m = m_blk + t * 4;
        acc[t] = add_scaled_block(acc[t], _mm512_load_si512(sums[t]), sc[0], mn[0], m[0], m[1]);
      }
      q_blk += a.n_tok * 32;
      m_blk += a.n_tok * 4;
    }
  }
  for (int t = 0; t < n; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * ldy, rows, acc[t]);
}

using AmxTileFn = void (*)(const uint8_t*, const ActView&, int64_t, int, float*, int64_t, __mmask16);
using AmxDecodeFn = void (*)(const uint8_t*, int64_t, uint8_t*);

template <int N>
AmxTileFn amx_streaming_tile(PackedFormat f) {
  switch (f) {
    case PackedFormat::kQ4: return amx_tile_streaming<DecQ4, N>;
    case PackedFormat::kQ5: return amx_tile_streaming<DecQ5, N>;
    case PackedFormat::kQ4K: return amx_tile_streaming<DecQ4K, N>;
    case PackedFormat::kQ8: return amx_tile_streaming<DecQ8, N>;
    default: return nullptr;
  }
}

// Q6_K would need two half-block products per block, which cost more in tile latency than they save
// (measured with bench/gemm_bench), so it stays on the vpdpbusd tiles.
AmxDecodeFn amx_decoder(PackedFormat f) {
  switch (f) {
    case PackedFormat::kQ4: return decode_group_for_amx<DecQ4>;
    case PackedFormat::kQ5: return decode_group_for_amx<DecQ5>;
    case PackedFormat::kQ4K: return decode_group_for_amx<DecQ4K>;
    case PackedFormat::kQ8: return decode_group_for_amx<DecQ8>;
    default: return nullptr;
  }
}

bool amx_allowed() {
  const char* env = std::getenv("FMSERVE_AMX");
  return !(env && std::string(env) == "0");
}
bool use_amx() {
  static const bool on = cpu_features().amx_int8 && amx_allowed();
  return on;
}
bool use_amx_bf16() {
  static const bool on = cpu_features().amx_bf16 && cpu_features().avx512bf16 && amx_allowed();
  return on;
}

using QuantTileFn = void (*)(const uint8_t*, const ActView&, int64_t, float*, int64_t, __mmask16);
using F16TileFn = void (*)(const uint8_t*, int64_t, const float*, int64_t, float*, int64_t, __mmask16);

template <class D, int... Ts>
constexpr std::array<QuantTileFn, kMaxTokTile + 1> quant_tiles(std::integer_sequence<int, Ts...>) {
  return {nullptr, &quant_tile<D, Ts + 1>...};
}
template <int... Ts>
constexpr std::array<F16TileFn, kMaxTokTile + 1> f16_tiles(std::integer_sequence<int, Ts...>) {
  return {nullptr, &f16_tile<Ts + 1>...};
}

const std::array<QuantTileFn, kMaxTokTile + 1>& quant_tile_table(PackedFormat f) {
  using Seq = std::make_integer_sequence<int, kMaxTokTile>;
  static const auto q8 = quant_tiles<DecQ8>(Seq{});
  static const auto q4 = quant_tiles<DecQ4>(Seq{});
  static const auto q5 = quant_tiles<DecQ5>(Seq{});
  static const auto q4k = quant_tiles<DecQ4K>(Seq{});
  static const auto q6k = quant_tiles<DecQ6K>(Seq{});
  switch (f) {
    case PackedFormat::kQ4: return q4;
    case PackedFormat::kQ5: return q5;
    case PackedFormat::kQ4K: return q4k;
    case PackedFormat::kQ6K: return q6k;
    default: return q8;
  }
}

// Activations of one input in each format the matrices of a call need, converted once.
struct PreparedInput {
  ActView q8_0, q8_k;
  const float* f16_rounded = nullptr;  // F16 weights take activations rounded to f16, as ggml's F16 dot does
  Bf16Activations f16_split;           // the same, split for the AMX bf16 tiles (prompt rows only)
  // Work space of the AMX kernels, one slice per pool thread (ThreadPool::current_thread_index()): the F16 kernels'
  // at offset 0, the int8 kernels' decoded weights at int8_offset.
  uint8_t* work = nullptr;
  size_t work_bytes = 0, int8_offset = 0;
  uint8_t* thread_work() const {
    return work + static_cast<size_t>(ThreadPool::current_thread_index()) * work_bytes;
  }
};

bool uses_q8k(PackedFormat f) { return f == PackedFormat::kQ4K || f == PackedFormat::kQ6K; }

// Block-major activations (ActView) after the row-major quantized blocks they are built from.
size_t quantized_bytes(TensorType act_type, int64_t K, int64_t n_tok) {
  const size_t rows = (tensor_row_bytes(act_type, K) * static_cast<size_t>(n_tok) + 63) & ~size_t{63};
  const size_t nbt = static_cast<size_t>(n_tok * (K / kPackBlock));
  // AMX tiles read 16 tokens of a block: pad for the rows past the last token of the last block.
  return rows + (nbt + kAmxTokens) * 32 + (nbt + kAmxTokens) * 4 * sizeof(float);
}

void quantize_input(const Compute& c, TensorType act_type, const float* x, int64_t K, int64_t n_tok, uint8_t* base,
                    ActView* a) {
  const QuantizeRowFn quantize = c.kernels->quantize_fn(act_type);
  const bool q8k = act_type == TensorType::Q8_K;
  const int64_t nb = K / kPackBlock;
  const size_t row_bytes = tensor_row_bytes(act_type, K);
  int8_t* q = reinterpret_cast<int8_t*>(base + ((row_bytes * static_cast<size_t>(n_tok) + 63) & ~size_t{63}));
  float* meta = reinterpret_cast<float*>(q + (n_tok * nb + kAmxTokens) * 32);
  *a = ActView{q, meta, n_tok, nb};
  c.pool->parallel_for(n_tok, 4, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      uint8_t* row = base + static_cast<size_t>(t) * row_bytes;
      quantize(x + t * K, row, K);
      for (int64_t b = 0; b < nb; ++b) {
        int8_t* qb = q + (b * n_tok + t) * 32;
        float* m = meta + (b * n_tok + t) * 4;
        if (q8k) {
          const BlockQ8_K& s = reinterpret_cast<const BlockQ8_K*>(row)[b / 8];
          const int j = static_cast<int>(b % 8);
          std::memcpy(qb, s.qs + 32 * j, 32);
          m[0] = s.d;
          m[1] = s.d * static_cast<float>(s.bsums[2 * j] + s.bsums[2 * j + 1]);
          m[2] = s.d * static_cast<float>(s.bsums[2 * j]);
          m[3] = s.d * static_cast<float>(s.bsums[2 * j + 1]);
        } else {
          const BlockQ8_0& s = reinterpret_cast<const BlockQ8_0*>(row)[b];
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.qs));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(qb), v);
          const __m512i s32 = _mm512_cvtepi16_epi32(_mm256_maddubs_epi16(_mm256_set1_epi8(1), v));
          m[0] = fp16_to_fp32(s.d);
          m[1] = m[0] * static_cast<float>(_mm512_reduce_add_epi32(s32));
        }
      }
    }
  });
}

void round_input_to_f16(const Compute& c, const float* x, int64_t K, int64_t n_tok, float* xr) {
  c.pool->parallel_for(n_tok, 4, [&](int64_t t0, int64_t t1) {
    for (int64_t i = t0 * K; i < t1 * K; i += 16) {
      const __m512 v = _mm512_loadu_ps(x + i);
      _mm512_storeu_ps(xr + i, _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
    }
  });
}

// F16 products: decode rows (and every row without AMX bf16) take the FMA kernel, prompt rows the bf16 tiles.
int64_t first_bf16_row(const Compute& c, int64_t n_tok) {
  return use_amx_bf16() ? std::clamp<int64_t>(c.n_decode_rows, 0, n_tok) : n_tok;
}

PreparedInput prepare_input(const Compute& c, const PackedMatrix* const* w, int n_mats, const float* x, int64_t n_tok) {
  const int64_t K = w[0]->n_cols;
  const int64_t bf16_row0 = first_bf16_row(c, n_tok);
  bool need_q80 = false, need_q8k = false, need_f16 = false;
  for (int i = 0; i < n_mats; ++i) {
    if (w[i]->format == PackedFormat::kF16) need_f16 = true;
    else if (uses_q8k(w[i]->format)) need_q8k = true;
    else need_q80 = true;
  }
  const size_t q80_bytes = need_q80 ? quantized_bytes(TensorType::Q8_0, K, n_tok) : 0;
  const size_t q8k_bytes = need_q8k ? quantized_bytes(TensorType::Q8_K, K, n_tok) : 0;
  const size_t f16_bytes = need_f16 ? sizeof(float) * static_cast<size_t>(bf16_row0 * K) : 0;
  // Tiles read 32 rows from their first: pad past the last prompt row.
  const int64_t split_rows = need_f16 && bf16_row0 < n_tok ? n_tok - bf16_row0 + 2 * kAmxTokens : 0;
  const size_t split_bytes = 2 * sizeof(uint16_t) * static_cast<size_t>(split_rows * K);
  const auto round64 = [](size_t bytes) { return (bytes + 63) & ~size_t{63}; };
  const size_t f16_work = split_rows > 0 ? f16_amx_work_bytes(n_tok - bf16_row0) : 0;
  bool int8_amx = false;
  for (int i = 0; i < n_mats; ++i) int8_amx = int8_amx || amx_decoder(w[i]->format) != nullptr;
  int8_amx = int8_amx && use_amx() && n_tok > kAmxTokens;
  const size_t int8_work = int8_amx ? static_cast<size_t>(K / kPackBlock) * kAmxBlockBytes : 0;
  const size_t work_bytes = round64(f16_work) + round64(int8_work);
  const size_t inputs = round64(q80_bytes + q8k_bytes + f16_bytes + split_bytes);
  uint8_t* base = static_cast<uint8_t*>(c.scratch->reserve(inputs + work_bytes * c.pool->size()));
  PreparedInput in;
  in.work = base + inputs;
  in.work_bytes = work_bytes;
  in.int8_offset = round64(f16_work);
  in.f16_split.row0 = bf16_row0;
  if (need_q80) quantize_input(c, TensorType::Q8_0, x, K, n_tok, base, &in.q8_0);
  if (need_q8k) quantize_input(c, TensorType::Q8_K, x, K, n_tok, base + q80_bytes, &in.q8_k);
  if (need_f16 && bf16_row0 > 0) {
    float* xr = reinterpret_cast<float*>(base + q80_bytes + q8k_bytes);
    round_input_to_f16(c, x, K, bf16_row0, xr);
    in.f16_rounded = xr;
  }
  if (split_rows > 0) {
    uint16_t* split = reinterpret_cast<uint16_t*>(base + q80_bytes + q8k_bytes + f16_bytes);
    const int64_t n = n_tok - bf16_row0;
    for (int64_t b = 0; b < K / kPackBlock; ++b)
      std::memset(split + (b * split_rows + n) * 64, 0, sizeof(uint16_t) * 64 * static_cast<size_t>(split_rows - n));
    c.pool->parallel_for(n, 4, [&](int64_t t0, int64_t t1) {
      split_activations(x + (bf16_row0 + t0) * K, K, t1 - t0, split, split_rows, t0);
    });
    in.f16_split.data = split;
    in.f16_split.rows = split_rows;
  }
  return in;
}

}  // namespace

// Threads take ranges of row groups over all the matrices (as if their rows were concatenated); inside a range,
// tokens go in chunks so a chunk's activations stay cached while the range's weights are walked.
void packed_matmul_avx512(const Compute& c, const PackedMatrix* const* w, float* const* y, int n_mats, const float* x,
                          int64_t n_tok) {
  const PreparedInput in = prepare_input(c, w, n_mats, x, n_tok);
  const bool amx = use_amx();
  static const auto f16 = f16_tiles(std::make_integer_sequence<int, kMaxTokTile>{});
  int64_t first_group[9] = {0};
  for (int i = 0; i < n_mats; ++i) first_group[i + 1] = first_group[i] + w[i]->n_groups;
  const int64_t n_groups = first_group[n_mats];
  // Decode is memory-bound: a thread idle at the end leaves its share of the bandwidth unused, so ranges are small.
  const int64_t ranges_per_thread = n_tok <= kPrefetchTokens ? 16 : 4;
  const int64_t grain = std::max<int64_t>(1, n_groups / (c.pool->size() * ranges_per_thread));
  const int64_t bf16_row0 = in.f16_split.row0;
  c.pool->parallel_for(n_groups, grain, [&](int64_t g0, int64_t g1) {
    int m = 0;
    const auto locate = [&](int64_t gg, int64_t* g, __mmask16* rows) -> const PackedMatrix& {
      while (gg >= first_group[m + 1]) ++m;
      *g = gg - first_group[m];
      const int64_t valid = std::min<int64_t>(kPackRows, w[m]->n_rows - *g * kPackRows);
      *rows = static_cast<__mmask16>((1u << valid) - 1);
      return *w[m];
    };
    // F16 prompt rows through the AMX bf16 tiles, kBf16Groups groups at a time.
    if (bf16_row0 < n_tok) {
      GroupOut batch[kBf16Groups];
      int n_batch = 0;
      m = 0;
      for (int64_t gg = g0; gg < g1; ++gg) {
        int64_t g;
        __mmask16 rows;
        const PackedMatrix& wm = locate(gg, &g, &rows);
        if (wm.format != PackedFormat::kF16) continue;
        batch[n_batch++] = GroupOut{wm.group(g), y[m] + g * kPackRows, wm.n_rows, rows};
        if (n_batch == kBf16Groups || gg + 1 == g1) {
          f16_amx_groups(batch, n_batch, wm.n_cols / kPackBlock, in.f16_split, n_tok, in.thread_work());
          n_batch = 0;
        }
      }
      if (n_batch > 0) f16_amx_groups(batch, n_batch, w[0]->n_cols / kPackBlock, in.f16_split, n_tok, in.thread_work());
    }
    for (int64_t tc = 0; tc < n_tok; tc += kTokChunk) {
      const int64_t te = std::min(n_tok, tc + kTokChunk);
      m = 0;
      for (int64_t gg = g0; gg < g1; ++gg) {
        int64_t g;
        __mmask16 rows;
        const PackedMatrix& wm = locate(gg, &g, &rows);
        float* ym = y[m] + g * kPackRows;
        if (wm.format == PackedFormat::kF16) {
          const int64_t fma_end = std::min(te, bf16_row0);
          for (int64_t t = tc; t < fma_end; t += kMaxTokTile)
            f16[std::min<int64_t>(kMaxTokTile, fma_end - t)](wm.group(g), wm.n_cols, in.f16_rounded, t, ym, wm.n_rows,
                                                             rows);
        } else {
          const auto& tiles = quant_tile_table(wm.format);
          const ActView& a = uses_q8k(wm.format) ? in.q8_k : in.q8_0;
          // Several tiles of tokens reuse one decoded copy of the group; a single tile streams the weights.
          const bool several_tiles = te - tc > kAmxTokens;
          const AmxDecodeFn decode = amx && several_tiles ? amx_decoder(wm.format) : nullptr;
          uint8_t* decoded = nullptr;
          if (decode) {
            decoded = in.thread_work() + in.int8_offset;
            decode(wm.group(g), a.nb, decoded);
          }
          const AmxTileFn streaming = amx && !several_tiles && te - tc >= kAmxMinTokens
                                          ? (te - tc <= kAmxTokens / 2 ? amx_streaming_tile<kAmxTokens / 2>(wm.format)
                                                                       : amx_streaming_tile<kAmxTokens>(wm.format))
                                          : nullptr;
          if (streaming) {
            streaming(wm.group(g), a, tc, static_cast<int>(te - tc), ym, wm.n_rows, rows);
            continue;
          }
          for (int64_t t = tc; t < te;) {
            const int64_t left = te - t;
            if (decoded && left >= kAmxMinTokens) {
              const int n = static_cast<int>(std::min<int64_t>(kAmxTokens, left));
              (n <= kAmxTokens / 2 ? amx_tile<kAmxTokens / 2> : amx_tile<kAmxTokens>)(decoded, a, t, n, ym, wm.n_rows,
                                                                                     rows);
              t += n;
            } else {
              const int n = static_cast<int>(std::min<int64_t>(kMaxTokTile, left));
              tiles[n](wm.group(g), a, t, ym, wm.n_rows, rows);
              t += n;
            }
          }
        }
      }
    }
  });
}

}  // namespace fm
