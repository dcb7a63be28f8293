// AMX bf16 products for the prompt rows of F16 weights.
// Prompt tokens of F16 products go through bf16 tiles. An f16 value (a weight, or an activation rounded to f16
// as the FMA kernel rounds it) splits exactly into two bf16 values: hi, the value rounded to 8 significant bits,
// and lo = v - hi, at most 3 significant bits with |lo| <= 2^-8 |v|. The products hi*hi, hi*lo and lo*hi are exact
// in f32; the dropped lo*lo is below 2^-16 of the product, a sixteenth of what rounding the activation to f16
// (as ggml's F16 path and our FMA kernel do) already costs. A token's row of a tile product depends on that token
// alone, so results do not depend on the batch.
#include "tensor/kernels/packed_gemm_f16_amx.h"

#include <algorithm>
#include <cstring>

#include "tensor/kernels/amx_tiles.h"
#include "tensor/packed_matrix.h"

namespace fm {
namespace {

inline __m512 f16x16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

inline __m512i m512i_of(__m512bh v) {
  __m512i r;
  std::memcpy(&r, &v, sizeof r);
  return r;
}

// One group's weights as B tiles, per 32-column block: the hi tile (16 column pairs x 16 rows x 2 bf16), then
// the lo tile; 2 KiB per block.
void split_f16_group(const uint8_t* group, int64_t nb, uint8_t* out) {
  // vcvtne2ps2bf16 puts the 16 even columns before the 16 odd ones; the B tile wants (even, odd) per row.
  alignas(64) static const uint16_t kInterleave[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                                       8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i interleave = _mm512_load_si512(kInterleave);
  const __m512i high_half = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* tile = group + b * kPackBlock * kPackRows * 2;
    uint8_t* hi = out + b * 2048;
    uint8_t* lo = hi + 1024;
    for (int kp = 0; kp < 16; ++kp) {
      const __m512 even = f16x16(tile + kp * 64), odd = f16x16(tile + kp * 64 + 32);
      const __m512i hi_pairs = _mm512_permutexvar_epi16(interleave, m512i_of(_mm512_cvtne2ps_pbh(odd, even)));
      const __m512 even_hi = _mm512_castsi512_ps(_mm512_slli_epi32(hi_pairs, 16));
      const __m512 odd_hi = _mm512_castsi512_ps(_mm512_and_si512(hi_pairs, high_half));
      // lo has at most 3 significant bits, so its f32 form is exactly its bf16 form shifted left by 16.
      const __m512i even_lo = _mm512_castps_si512(_mm512_sub_ps(even, even_hi));
      const __m512i odd_lo = _mm512_castps_si512(_mm512_sub_ps(odd, odd_hi));
      _mm512_storeu_si512(hi + kp * 64, hi_pairs);
      _mm512_storeu_si512(lo + kp * 64, _mm512_or_si512(odd_lo, _mm512_srli_epi32(even_lo, 16)));
    }
  }
}

// Blocking: a thread takes up to kBf16Groups groups and walks the columns in panels of kBf16PanelBlocks blocks.
// For each panel it splits the groups' weights (so the split tiles stay in L2 while they are used), then
// multiplies every 32-token pair of tiles with every pair of groups; the f32 sums are carried from panel to panel
// in the work space. Tile loads from L2 cost about as much as the tile products here, so each loaded tile serves
// two others.
constexpr int64_t kBf16PanelBlocks = 8;

// Where a kernel call reads and writes one group's sums: f32 rows of 16, one per token, `stride` bytes apart.
struct SumsAt {
  const float* in;  // nullptr: start from zero
  float* out;
  int64_t in_stride, out_stride;
};

// Sums of Toks x 16 tokens (tiles of a 32-token pair) times Groups groups of 16 rows over n_blocks blocks. Each
// loaded activation tile serves every group and each loaded weight tile every token tile; sums stay in tiles.
template <int Toks, int Groups>
void f16_amx_panel(const uint8_t* const* wsplit, const uint16_t* act, int64_t block_step, int64_t n_blocks,
                   const SumsAt* sums) {
  constexpr auto c_tile = [](int tok, int grp) { return tok * 2 + grp; };
#pragma GCC unroll 2
  for (int j = 0; j < Toks; ++j)
#pragma GCC unroll 2
    for (int g = 0; g < Groups; ++g) {
      // Tile numbers must be constants: spell out the four sums.
      const int tile = c_tile(j, g);
      const float* in = sums[g].in ? reinterpret_cast<const float*>(reinterpret_cast<const uint8_t*>(sums[g].in) +
                                                                     j * kAmxTokens * sums[g].in_stride)
                                   : nullptr;
      if (tile == 0) { if (in) _tile_loadd(0, in, sums[g].in_stride); else _tile_zero(0); }
      if (tile == 1) { if (in) _tile_loadd(1, in, sums[g].in_stride); else _tile_zero(1); }
      if (tile == 2) { if (in) _tile_loadd(2, in, sums[g].in_stride); else _tile_zero(2); }
      if (tile == 3) { if (in) _tile_loadd(3, in, sums[g].in_stride); else _tile_zero(3); }
    }
  for (int64_t b = 0; b < n_blocks; ++b, act += block_step) {
    const uint8_t* w0 = wsplit[0] + b * 2048;
    const uint8_t* w1 = Groups == 2 ? wsplit[1] + b * 2048 : nullptr;
    // Token tile 0 with group 0 then group 1; token tile 1 with group 1 (still loaded) then group 0.
    _tile_loadd(4, act, 128);
    _tile_loadd(5, act + 32, 128);
    _tile_loadd(6, w0, 64);
    _tile_loadd(7, w0 + 1024, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(0, 4, 7);
    _tile_dpbf16ps(0, 5, 6);
    if constexpr (Groups == 2) {
      _tile_loadd(6, w1, 64);
      _tile_loadd(7, w1 + 1024, 64);
      _tile_dpbf16ps(1, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(1, 5, 6);
    }
    if constexpr (Toks == 2) {
      _tile_loadd(4, act + 16 * 64, 128);
      _tile_loadd(5, act + 16 * 64 + 32, 128);
      if constexpr (Groups == 2) {
        _tile_dpbf16ps(3, 4, 6);
        _tile_dpbf16ps(3, 4, 7);
        _tile_dpbf16ps(3, 5, 6);
        _tile_loadd(6, w0, 64);
        _tile_loadd(7, w0 + 1024, 64);
      }
      _tile_dpbf16ps(2, 4, 6);
      _tile_dpbf16ps(2, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
    }
  }
#pragma GCC unroll 2
  for (int j = 0; j < Toks; ++j)
#pragma GCC unroll 2
    for (int g = 0; g < Groups; ++g) {
      const int tile = c_tile(j, g);
      float* out = reinterpret_cast<float*>(reinterpret_cast<uint8_t*>(sums[g].out) + j * kAmxTokens * sums[g].out_stride);
      if (tile == 0) _tile_stored(0, out, sums[g].out_stride);
      if (tile == 1) _tile_stored(1, out, sums[g].out_stride);
      if (tile == 2) _tile_stored(2, out, sums[g].out_stride);
      if (tile == 3) _tile_stored(3, out, sums[g].out_stride);
    }
}

using F16AmxPanelFn = void (*)(const uint8_t* const*, const uint16_t*, int64_t, int64_t, const SumsAt*);

}  // namespace

void split_activations(const float* x, int64_t K, int64_t n, uint16_t* out, int64_t rows, int64_t t0) {
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < K; k += 16) {
      const __m512 v = _mm512_loadu_ps(x + i * K + k);
      const __m512 r = _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      const __m256bh h = _mm512_cvtneps_pbh(r);
      const __m512 h32 = _mm512_cvtpbh_ps(h);
      const __m256bh l = _mm512_cvtneps_pbh(_mm512_sub_ps(r, h32));  // exact: lo has at most 3 significant bits
      uint16_t* dst = out + ((k / kPackBlock) * rows + t0 + i) * 64 + k % kPackBlock;
      std::memcpy(dst, &h, sizeof h);
      std::memcpy(dst + 32, &l, sizeof l);
    }
  }
}

constexpr size_t kBf16SplitBytes = kBf16Groups * kBf16PanelBlocks * 2048;
size_t f16_amx_work_bytes(int64_t n_prompt) {
  const int64_t n_pad = (n_prompt + 2 * kAmxTokens - 1) / (2 * kAmxTokens) * (2 * kAmxTokens);
  return kBf16SplitBytes + sizeof(float) * static_cast<size_t>(n_pad * 16 * kBf16Groups);
}

void f16_amx_groups(const GroupOut* groups, int n_groups, int64_t nb, const Bf16Activations& a, int64_t n_tok,
                    uint8_t* work) {
  configure_tiles(TileUse::kBf16);
  static constexpr F16AmxPanelFn kPanels[2][2] = {{f16_amx_panel<1, 1>, f16_amx_panel<1, 2>},
                                                  {f16_amx_panel<2, 1>, f16_amx_panel<2, 2>}};
  const int64_t n = n_tok - a.row0;
  const int64_t n_pad = (n + 2 * kAmxTokens - 1) / (2 * kAmxTokens) * (2 * kAmxTokens);
  // The groups' weights are split one panel at a time, so the split tiles stay in L2 while every pair uses them.
  constexpr size_t split_bytes = kBf16PanelBlocks * 2048;
  uint8_t* wsplit = work;
  float* acc = reinterpret_cast<float*>(work + kBf16SplitBytes);
  // The last panel stores whole tiles straight into y; tiles with missing rows or tokens go through acc.
  const auto direct = [&](int i, int64_t t) { return groups[i].rows == 0xFFFF && n - t >= 2 * kAmxTokens; };
  const int64_t block_step = a.rows * 64;
  for (int64_t p = 0; p < nb; p += kBf16PanelBlocks) {
    const int64_t n_blocks = std::min(kBf16PanelBlocks, nb - p);
    const bool last = p + n_blocks == nb;
    for (int i = 0; i < n_groups; ++i)
      split_f16_group(groups[i].weights + p * kPackBlock * kPackRows * 2, n_blocks, wsplit + i * split_bytes);
    for (int64_t t = 0; t < n; t += 2 * kAmxTokens) {
      const uint16_t* act = a.data + (p * a.rows + t) * 64;
      for (int i = 0; i < n_groups; i += 2) {
        const int pair = std::min(2, n_groups - i);
        const uint8_t* w[2];
        SumsAt sums[2];
        for (int k = 0; k < pair; ++k) {
          w[k] = wsplit + (i + k) * split_bytes;
          float* c = acc + ((i + k) * n_pad + t) * 16;
          sums[k] = SumsAt{p == 0 ? nullptr : c, c, 64, 64};
          if (last && direct(i + k, t)) {
            sums[k].out = groups[i + k].y + (a.row0 + t) * groups[i + k].ldy;
            sums[k].out_stride = groups[i + k].ldy * static_cast<int64_t>(sizeof(float));
          }
        }
        kPanels[n - t > kAmxTokens ? 1 : 0][pair - 1](w, act, block_step, n_blocks, sums);
      }
    }
  }
  for (int i = 0; i < n_groups; ++i) {
    const GroupOut& g = groups[i];
    for (int64_t t = 0; t < n; t += 2 * kAmxTokens) {
      if (direct(i, t)) continue;
      for (int64_t r = t; r < std::min(n, t + 2 * kAmxTokens); ++r)
        _mm512_mask_storeu_ps(g.y + (a.row0 + r) * g.ldy, g.rows, _mm512_loadu_ps(acc + (i * n_pad + r) * 16));
    }
  }
}

}  // namespace fm
