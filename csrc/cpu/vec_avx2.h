// 8 x float32 in one ymm register (AVX2 + FMA). Intrinsic mappings only.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace pt::kernels::avx2 {

struct Vec {
  using reg = __m256;
  static constexpr int width = 8;

  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float x) { return _mm256_set1_ps(x); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  // Store bypassing the caches (p aligned to 32 bytes); see vec_avx512.h.
  static void stream(float* p, reg v) { _mm256_stream_ps(p, v); }
  static void stream_fence() { _mm_sfence(); }
  // Hint: bring the cache line holding p into L1 ahead of its use (never faults).
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
  // Hint: bring it into L2 only (for data read once, far ahead of its use).
  static void prefetch_l2(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T1); }
  static __m256i first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  // n in [0, width]: lanes past n read as 0 and are never touched in memory.
  static reg load_partial(const float* p, int n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_partial(float* p, reg v, int n) { _mm256_maskstore_ps(p, first(n), v); }

  // Lanes past n become 0.
  static reg keep_first(reg v, int n) { return _mm256_and_ps(v, _mm256_castsi256_ps(first(n))); }

  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }  // a * b + c
  // 1 / a to within a few ulp: the 12-bit estimate refined by one Newton step (much cheaper
  // than a division; a must be finite and non-zero).
  static reg reciprocal(reg a) {
    const reg r = _mm256_rcp_ps(a);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(a, r, _mm256_set1_ps(2.0f)));
  }
  static reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  static reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
  static reg abs(reg a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  // |magnitude| with the sign of sign.
  static reg copysign(reg magnitude, reg sign) {
    const reg sign_bit = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(sign_bit, magnitude), _mm256_and_ps(sign_bit, sign));
  }
  // Lanes where a < b take if_less, the others keep otherwise.
  static reg select_less(reg a, reg b, reg if_less, reg otherwise) {
    return _mm256_blendv_ps(otherwise, if_less, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
  }
  static float reduce_add(reg v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float reduce_max(reg v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static reg round(reg v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // The first n lanes, integral and within [-128, 127], stored as int8 (n in [0, width]).
  static void store_int8(int8_t* p, reg v, int n) {
    const __m256i i32 = _mm256_cvtps_epi32(v);
    const __m128i i16 = _mm_packs_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
    const __m128i i8 = _mm_packs_epi16(i16, i16);
    if (n == width) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(p), i8);
    } else {
      alignas(16) int8_t lanes[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(lanes), i8);
      std::memcpy(p, lanes, static_cast<size_t>(n));
    }
  }
  // 2^n for integral n in [-127, 127]; n = -127 gives exactly 0.
  static reg pow2i(reg n) {
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  // In place: lane j of r[i] becomes lane i of r[j] (an 8 x 8 block). Rows interleave in
  // pairs, then in fours, leaving column 4L + c of rows 4g..4g+3 in 128-bit lane L of
  // u[4g + c]; the 128-bit halves are then swapped across.
  static void transpose(reg (&r)[width]) {
    reg t[width], u[width];
    for (int i = 0; i < width; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int g = 0; g < width; g += 4) {
      for (int h = 0; h < 2; ++h) {
        u[g + 2 * h] = _mm256_shuffle_ps(t[g + h], t[g + 2 + h], 0x44);
        u[g + 2 * h + 1] = _mm256_shuffle_ps(t[g + h], t[g + 2 + h], 0xEE);
      }
    }
    for (int c = 0; c < 4; ++c) {
      r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
      r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
  }
};

// int8 x int8 -> int32 dot products for the int8 GEMM: 8 columns x 4 depths a register. As the
// AVX-512BW mapping (see vec_avx512.h): int8 widened to int16 pairs and vpmaddwd, which is exact
// where vpmaddubsw would saturate.
struct VecS8 {
  using ireg = __m256i;
  static constexpr int width = 8;
  static constexpr int mr = 4, nv = 2;
  static constexpr bool shifted = false;
  static constexpr int a_quad_bytes = 8;
  struct wreg { __m256i even, odd; };
  struct areg { __m256i even, odd; };

  static ireg zero() { return _mm256_setzero_si256(); }
  static wreg load_w(const int8_t* p) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return {_mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8), _mm256_srai_epi16(v, 8)};
  }
  static void pack_a(const int8_t* q, uint8_t* dst) {
    const int16_t pairs[4] = {q[0], q[2], q[1], q[3]};
    std::memcpy(dst, pairs, sizeof pairs);
  }
  static areg broadcast_a(const uint8_t* p) {
    int32_t even, odd;
    std::memcpy(&even, p, 4);
    std::memcpy(&odd, p + 4, 4);
    return {_mm256_set1_epi32(even), _mm256_set1_epi32(odd)};
  }
  static ireg dot(ireg acc, const areg& a, const wreg& w) {
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(a.even, w.even),
                                                  _mm256_madd_epi16(a.odd, w.odd)));
  }
  static ireg sub(ireg a, ireg b) { return _mm256_sub_epi32(a, b); }
  static ireg load_partial(const int32_t* p, int n) { return _mm256_maskload_epi32(p, Vec::first(n)); }
  static void store_partial(int32_t* p, ireg v, int n) { _mm256_maskstore_epi32(p, Vec::first(n), v); }
  static __m256 to_float(ireg v) { return _mm256_cvtepi32_ps(v); }
};

}  // namespace pt::kernels::avx2
