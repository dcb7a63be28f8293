// AVX2 dot products of one quantized weight row with 1-4 activation rows at once (compiled with -mavx2 -mfma
// -mf16c), and the AVX2 activation quantizers.
//
// Why several activation rows: on a CPU without AVX-512 the prompt's products go through these dots, and most of a
// dot's work is per weight block (unpacking nibbles and high bits, decoding k-quant scales, the weight's scale), not
// per token. Sharing that work across up to four tokens makes prompt processing several times cheaper, and the
// single-row case (decode) gets the vectorised scale decoding too.
//
// A token's result never depends on the others in the call: each of its operations is the same, in the same order,
// whatever n_act is, and vec_dot (one row) is the n_act = 1 case. So a sequence's logits do not depend on the batch.
#include <immintrin.h>

#include <cstring>

#include "tensor/fp16.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/kernels/quant_unpack-inl.h"
#include "tensor/quant_blocks.h"

namespace fm {
namespace {

// f16 -> f32 for every bit pattern, filled once by set_quant_dots_avx2: on these CPUs a table load is cheaper than
// moving a half into a vector register and converting it (two scales per 32-element block add up).
alignas(64) float g_half_to_float[1 << 16];
inline float half_to_float(uint16_t h) { return g_half_to_float[h]; }

template <int T, typename Block>
inline void activation_rows(const void* act, size_t stride, const Block* (&y)[T]) {
  for (int t = 0; t < T; ++t) y[t] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(act) + t * stride);
}

// ---- 32-element blocks with one scale (Q4_0, Q5_0, Q8_0) against Q8_0 activations ------------------------------
// Signed weights q (as bytes) times signed activations: |q| * sign(y, q), summed in pairs and then in fours.
struct Q4_0Weights {
  using Block = BlockQ4_0;
  static __m256i values(const Block& b) { return _mm256_sub_epi8(unpack_nibbles16(b.qs), _mm256_set1_epi8(8)); }
};
struct Q5_0Weights {
  using Block = BlockQ5_0;
  // nibble + 16 * bit - 16: with the bit set that is the nibble; without it, the nibble with 0xF0 on top (-16 + n).
  static __m256i values(const Block& b) {
    const __m256i minus16 = _mm256_andnot_si256(bits_to_bytes(b.qh), _mm256_set1_epi8(static_cast<char>(0xF0)));
    return _mm256_or_si256(unpack_nibbles16(b.qs), minus16);
  }
};
struct Q8_0Weights {
  using Block = BlockQ8_0;
  static __m256i values(const Block& b) { return load_256(b.qs); }
};

template <typename W, int T>
void dot_legacy(int64_t n, const void* w, const void* act, size_t stride, float* out) {
  const typename W::Block* x = static_cast<const typename W::Block*>(w);
  const BlockQ8_0* y[T];
  activation_rows<T>(act, stride, y);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    _mm_prefetch(reinterpret_cast<const char*>(x + blk) + 1024, _MM_HINT_T0);
    const __m256i q = W::values(x[blk]);
    const __m256i q_abs = _mm256_sign_epi8(q, q);
    const float dw = half_to_float(x[blk].d);
    for (int t = 0; t < T; ++t) {
      const __m256i pairs = _mm256_maddubs_epi16(q_abs, _mm256_sign_epi8(load_256(y[t][blk].qs), q));
      const __m256 sum = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
      acc[t] = _mm256_fmadd_ps(sum, _mm256_set1_ps(dw * half_to_float(y[t][blk].d)), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = hsum_ps256(acc[t]);
}

// ---- Q4_K against Q8_K -------------------------------------------------------------------------------------------
// Per super-block of 256: sum_j d*sc_j*(q_j . y_j) - dmin * sum_j m_j * (sum of y over sub-block j), j = 8 sub-blocks
// of 32. The 6-bit scales and mins are decoded for all eight sub-blocks at once from the 12 packed bytes.
struct KquantScales {
  __m256i scales;     // sc_0..sc_7 as int16, in both 128-bit lanes
  __m256i mins_pair;  // m_0, m_0, m_1, m_1, ..., m_7, m_7 as int16 (one per 16-element activation sum)
};

inline KquantScales decode_q4_k_scales(const uint8_t* packed) {
  uint32_t u[3];
  std::memcpy(u, packed, 12);
  const uint32_t sc_lo = u[0] & 0x3f3f3f3fu, mn_lo = u[1] & 0x3f3f3f3fu;
  const uint32_t sc_hi = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 2) & 0x30303030u);
  const uint32_t mn_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 2) & 0x30303030u);
  const __m128i sc8 = _mm_set_epi32(0, 0, static_cast<int>(sc_hi), static_cast<int>(sc_lo));
  const __m128i mn8 = _mm_set_epi32(0, 0, static_cast<int>(mn_hi), static_cast<int>(mn_lo));
  const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  return {_mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc8)), _mm256_cvtepu8_epi16(_mm_shuffle_epi8(mn8, dup))};
}

// The int16 scale of sub-block j in all 16 lanes (j in 0..7; `scales` from decode_q4_k_scales).
inline __m256i broadcast_scale(__m256i scales, int j) {
  const __m256i ctrl = _mm256_set1_epi16(static_cast<int16_t>((2 * j) | ((2 * j + 1) << 8)));
  return _mm256_shuffle_epi8(scales, ctrl);
}

template <int T>
void dot_q4_k(int64_t n, const void* w, const void* act, size_t stride, float* out) {
  const BlockQ4_K* x = static_cast<const BlockQ4_K*>(w);
  const BlockQ8_K* y[T];
  activation_rows<T>(act, stride, y);
  const __m256i low_mask = _mm256_set1_epi8(0xF);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const KquantScales s = decode_q4_k_scales(x[blk].scales);
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm256_setzero_si256();
    for (int chunk = 0; chunk < 4; ++chunk) {
      const __m256i q = load_256(x[blk].qs + 32 * chunk);
      const __m256i lo = _mm256_and_si256(q, low_mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
      const __m256i sc_lo = broadcast_scale(s.scales, 2 * chunk), sc_hi = broadcast_scale(s.scales, 2 * chunk + 1);
      for (int t = 0; t < T; ++t) {
        const int8_t* yq = y[t][blk].qs + 64 * chunk;
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load_256(yq)), sc_lo));
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load_256(yq + 32)), sc_hi));
      }
    }
    const float d = half_to_float(x[blk].d), dmin = half_to_float(x[blk].dmin);
    for (int t = 0; t < T; ++t) {
      const float dy = y[t][blk].d;
      const __m256i mins = _mm256_madd_epi16(load_256(y[t][blk].bsums), s.mins_pair);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_set1_ps(d * dy), acc[t]);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_set1_ps(-dmin * dy), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = hsum_ps256(acc[t]);
}

// ---- Q6_K against Q8_K -------------------------------------------------------------------------------------------

template <int T>
void dot_q6_k(int64_t n, const void* w, const void* act, size_t stride, float* out) {
  const BlockQ6_K* x = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* y[T];
  activation_rows<T>(act, stride, y);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[blk].scales));
    const __m256i sc_bytes = _mm256_broadcastsi128_si256(sc8);
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);  // the 16 sub-block scales, for the offset term
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      __m256i q[4];
      unpack_q6_k_half(x[blk].ql + 64 * half, x[blk].qh + 32 * half, q);
      for (int k = 0; k < 4; ++k) {
        // Sub-blocks s (elements 0-15 of the register) and s + 1 (16-31): each int16 lane gets its scale byte in
        // both halves, so an arithmetic shift by 8 sign-extends it.
        const int s = 8 * half + 2 * k;
        const __m256i ctrl = _mm256_set_m128i(_mm_set1_epi8(static_cast<char>(s + 1)), _mm_set1_epi8(static_cast<char>(s)));
        const __m256i scale = _mm256_srai_epi16(_mm256_shuffle_epi8(sc_bytes, ctrl), 8);
        for (int t = 0; t < T; ++t) {
          const int8_t* yq = y[t][blk].qs + 128 * half + 32 * k;
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], load_256(yq)), scale));
        }
      }
    }
    const float d = half_to_float(x[blk].d);
    for (int t = 0; t < T; ++t) {
      const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load_256(y[t][blk].bsums)), 5);  // 32 * sc . bsums
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sumi[t], offset)), _mm256_set1_ps(d * y[t][blk].d), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = hsum_ps256(acc[t]);
}

// ---- dispatch ----------------------------------------------------------------------------------------------------
template <template <int> class Dot>
void dot_tokens(int64_t n, const void* w, const void* act, size_t stride, int n_act, float* out) {
  switch (n_act) {
    case 1: return Dot<1>::run(n, w, act, stride, out);
    case 2: return Dot<2>::run(n, w, act, stride, out);
    case 3: return Dot<3>::run(n, w, act, stride, out);
    default: return Dot<4>::run(n, w, act, stride, out);
  }
}

template <template <int> class Dot>
float dot_one(int64_t n, const void* w, const void* act) {
  float out;
  Dot<1>::run(n, w, act, 0, &out);
  return out;
}

template <typename W>
struct Legacy {
  template <int T>
  struct Dot {
    static void run(int64_t n, const void* w, const void* a, size_t s, float* o) { dot_legacy<W, T>(n, w, a, s, o); }
  };
};
template <int T>
struct Q4K {
  static void run(int64_t n, const void* w, const void* a, size_t s, float* o) { dot_q4_k<T>(n, w, a, s, o); }
};
template <int T>
struct Q6K {
  static void run(int64_t n, const void* w, const void* a, size_t s, float* o) { dot_q6_k<T>(n, w, a, s, o); }
};

// ---- activation quantizers, bit-identical to the scalar ones -----------------------------------------------------
// round-to-nearest-even, NaN -> 0, clamped to [lo, hi]; 8 floats -> 8 int32.
inline __m256i round_clamp(__m256 v, float lo, float hi) {
  v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
  return _mm256_cvtps_epi32(v);
}

// 32 int32 in four registers (elements in order) -> 32 int8.
inline __m256i pack_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);  // lane-interleaved int16
  const __m256i abcd = _mm256_packs_epi16(ab, cd);                            // lane-interleaved int8
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), v); }

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

void quantize_q8_0(const float* src, void* dst, int64_t n) {
  BlockQ8_0* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t blk = 0; blk < n / kQK; ++blk) {
    const float* x = src + blk * kQK;
    __m256 v[4];
    __m256 vmax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      vmax = _mm256_max_ps(abs_ps(v[k]), vmax);  // max_ps returns its second operand for NaN: NaNs are skipped
    }
    const float d = hmax(vmax) / 127.f;
    const float id = d != 0 ? 1.f / d : 0.f;
    b[blk].d = fp32_to_fp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = round_clamp(_mm256_mul_ps(v[k], vid), -127.f, 127.f);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[blk].qs), pack_i8(q[0], q[1], q[2], q[3]));
  }
}

void quantize_q8_k(const float* src, void* dst, int64_t n) {
  BlockQ8_K* b = static_cast<BlockQ8_K*>(dst);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    const float* x = src + blk * kQK_K;
    __m256 vmax = _mm256_setzero_ps();
    for (int i = 0; i < kQK_K; i += 8) vmax = _mm256_max_ps(abs_ps(_mm256_loadu_ps(x + i)), vmax);
    const float amax = hmax(vmax);
    if (amax == 0) {
      std::memset(&b[blk], 0, sizeof(BlockQ8_K));
      continue;
    }
    float max = 0;  // the signed value of the first element of largest magnitude
    for (int i = 0; i < kQK_K; i += 8) {
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + i)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
      if (hit) {
        max = x[i + __builtin_ctz(static_cast<unsigned>(hit))];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    for (int i = 0; i < kQK_K; i += 32) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) q[k] = round_clamp(_mm256_mul_ps(vs, _mm256_loadu_ps(x + i + 8 * k)), -128.f, 127.f);
      const __m256i packed = pack_i8(q[0], q[1], q[2], q[3]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[blk].qs + i), packed);
      // Sums of 16: int8 -> int16, pairwise sums, then the 8 pair sums of each half added up.
      for (int h = 0; h < 2; ++h) {
        const __m128i part = h ? _mm256_extracti128_si256(packed, 1) : _mm256_castsi256_si128(packed);
        const __m256i pairs = _mm256_madd_epi16(_mm256_cvtepi8_epi16(part), ones);  // 8 int32
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
        b[blk].bsums[(i + 16 * h) / 16] = static_cast<int16_t>(_mm_cvtsi128_si32(s));
      }
    }
    b[blk].d = 1.f / iscale;
  }
}

}  // namespace

void set_quant_dots_avx2(KernelTable& t) {
  for (uint32_t h = 0; h < (1u << 16); ++h) g_half_to_float[h] = fp16_to_fp32(static_cast<uint16_t>(h));
  auto set = [&](TensorType type, VecDotFn one, VecDotTokensFn tokens) {
    t.vec_dot[static_cast<uint32_t>(type)] = one;
    t.vec_dot_tokens[static_cast<uint32_t>(type)] = tokens;
  };
  set(TensorType::Q4_0, dot_one<Legacy<Q4_0Weights>::Dot>, dot_tokens<Legacy<Q4_0Weights>::Dot>);
  set(TensorType::Q5_0, dot_one<Legacy<Q5_0Weights>::Dot>, dot_tokens<Legacy<Q5_0Weights>::Dot>);
  set(TensorType::Q8_0, dot_one<Legacy<Q8_0Weights>::Dot>, dot_tokens<Legacy<Q8_0Weights>::Dot>);
  set(TensorType::Q4_K, dot_one<Q4K>, dot_tokens<Q4K>);
  set(TensorType::Q6_K, dot_one<Q6K>, dot_tokens<Q6K>);
  t.quantize[static_cast<uint32_t>(TensorType::Q8_0)] = quantize_q8_0;
  t.quantize[static_cast<uint32_t>(TensorType::Q8_K)] = quantize_q8_k;
}

}  // namespace fm
