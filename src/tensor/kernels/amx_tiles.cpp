#include "tensor/kernels/amx_tiles.h"

#include <immintrin.h>

namespace fm {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

TileConfig make_tile_config(TileUse use) {
  TileConfig c;
  for (int t = 0; t < 8; ++t) {
    c.rows[t] = 16;
    c.colsb[t] = 64;
  }
  if (use == TileUse::kInt8) {
    c.colsb[2] = 32;
    c.rows[3] = 8;
  }
  return c;
}

thread_local TileUse t_tile_use = TileUse::kNone;

}  // namespace

void configure_tiles(TileUse use) {
  static const TileConfig int8 = make_tile_config(TileUse::kInt8), bf16 = make_tile_config(TileUse::kBf16);
  if (t_tile_use != use) {
    _tile_loadconfig(use == TileUse::kInt8 ? &int8 : &bf16);
    t_tile_use = use;
  }
}

}  // namespace fm
