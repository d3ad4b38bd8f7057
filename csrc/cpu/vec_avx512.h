// 16 x float32 in one zmm register. Intrinsic mappings only: kernels never see __m512.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace pt::kernels::avx512 {

struct Vec {
  using reg = __m512;
  static constexpr int width = 16;

  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float x) { return _mm512_set1_ps(x); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  // Store bypassing the caches (p aligned to 64 bytes): for outputs too large to stay cached,
  // it saves reading each line in before writing it. stream_fence() orders these stores
  // before later ones (another thread's reads), as plain stores are.
  static void stream(float* p, reg v) { _mm512_stream_ps(p, v); }
  static void stream_fence() { _mm_sfence(); }
  // Hint: bring the cache line holding p into L1 ahead of its use (never faults).
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
  // Hint: bring it into L2 only (for data read once, far ahead of its use).
  static void prefetch_l2(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T1); }
  static __mmask16 first(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  // n in [0, width]: lanes past n read as 0 and are never touched in memory.
  static reg load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_partial(float* p, reg v, int n) { _mm512_mask_storeu_ps(p, first(n), v); }

  // Lanes past n become 0.
  static reg keep_first(reg v, int n) { return _mm512_maskz_mov_ps(first(n), v); }

  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }  // a * b + c
  // 1 / a to within ~1 ulp: the 14-bit estimate refined by one Newton step (much cheaper than
  // a division; a must be finite and non-zero).
  static reg reciprocal(reg a) {
    const reg r = _mm512_rcp14_ps(a);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(a, r, _mm512_set1_ps(2.0f)));
  }
  static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  static reg abs(reg a) { return _mm512_abs_ps(a); }
  // |magnitude| with the sign of sign.
  static reg copysign(reg magnitude, reg sign) {
    const reg sign_bit = _mm512_set1_ps(-0.0f);
    return _mm512_or_ps(_mm512_andnot_ps(sign_bit, magnitude), _mm512_and_ps(sign_bit, sign));
  }
  // Lanes where a < b take if_less, the others keep otherwise.
  static reg select_less(reg a, reg b, reg if_less, reg otherwise) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), otherwise, if_less);
  }
  static float reduce_add(reg v) { return _mm512_reduce_add_ps(v); }
  static float reduce_max(reg v) { return _mm512_reduce_max_ps(v); }
  static reg round(reg v) {
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // The first n lanes, integral and within [-128, 127], stored as int8 (n in [0, width]).
  static void store_int8(int8_t* p, reg v, int n) {
    _mm_mask_storeu_epi8(p, first(n), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v)));
  }
  // 2^n for integral n in [-127, 127]; n = -127 gives exactly 0.
  static reg pow2i(reg n) {
    __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  // In place: lane j of r[i] becomes lane i of r[j] (a 16 x 16 block, rows in registers).
  // Pairs of rows interleave (unpack), then pairs of pairs (as 64-bit lanes), leaving column
  // 4L + c of rows 4g..4g+3 in 128-bit lane L of u[4g + c]; the 4 x 4 grid of 128-bit lanes is
  // then transposed by two rounds of shuffle_f32x4. 64 shuffles for 256 floats.
  static void transpose(reg (&r)[width]) {
    reg t[width], u[width];
    for (int i = 0; i < width; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int g = 0; g < width; g += 4) {
      for (int h = 0; h < 2; ++h) {
        const __m512d lo = _mm512_castps_pd(t[g + h]), hi = _mm512_castps_pd(t[g + 2 + h]);
        u[g + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo, hi));
        u[g + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo, hi));
      }
    }
    for (int c = 0; c < 4; ++c) {
      const reg even01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);   // lanes 0, 2 of each
      const reg odd01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);    // lanes 1, 3
      const reg even23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
      const reg odd23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
      r[c] = _mm512_shuffle_f32x4(even01, even23, 0x88);       // lane 0 of rows 0, 4, 8, 12
      r[4 + c] = _mm512_shuffle_f32x4(odd01, odd23, 0x88);     // lane 1
      r[8 + c] = _mm512_shuffle_f32x4(even01, even23, 0xDD);   // lane 2
      r[12 + c] = _mm512_shuffle_f32x4(odd01, odd23, 0xDD);    // lane 3
    }
  }
};

// int8 x int8 -> int32 dot products for the int8 GEMM (csrc/kernels/gemm_s8.cpp), exact.
// A weight register holds 16 columns x 4 consecutive depths (one 32-bit lane per column); an
// activation "quad" holds 4 consecutive depths of one row, broadcast to every lane; dot() adds
// sum over the 4 depths of a * w into each int32 lane.
//
// AVX-512BW without VNNI: the only u8 x s8 multiply (vpmaddubsw) saturates its int16 pair sums
// (255 * 127 * 2 > 32767), so both sides are widened to int16 and multiplied with vpmaddwd,
// which cannot overflow: depths (0, 2) from the even bytes of each lane, (1, 3) from the odd.
// Activations are packed as int16 pairs (q0, q2), (q1, q3): 8 bytes a quad, no +128 shift.
struct VecS8 {
  using ireg = __m512i;
  static constexpr int width = 16;
  static constexpr int mr = 8, nv = 2;  // 16 acc + 4 weight halves + 2 broadcasts + temps
  static constexpr bool shifted = false;
  static constexpr int a_quad_bytes = 8;
  struct wreg { __m512i even, odd; };
  struct areg { __m512i even, odd; };

  static ireg zero() { return _mm512_setzero_si512(); }
  static wreg load_w(const int8_t* p) {
    const __m512i v = _mm512_loadu_si512(p);
    return {_mm512_srai_epi16(_mm512_slli_epi16(v, 8), 8), _mm512_srai_epi16(v, 8)};
  }
  static void pack_a(const int8_t* q, uint8_t* dst) {
    const int16_t pairs[4] = {q[0], q[2], q[1], q[3]};
    std::memcpy(dst, pairs, sizeof pairs);
  }
  static areg broadcast_a(const uint8_t* p) {
    int32_t even, odd;
    std::memcpy(&even, p, 4);
    std::memcpy(&odd, p + 4, 4);
    return {_mm512_set1_epi32(even), _mm512_set1_epi32(odd)};
  }
  static ireg dot(ireg acc, const areg& a, const wreg& w) {
    return _mm512_add_epi32(acc, _mm512_add_epi32(_mm512_madd_epi16(a.even, w.even),
                                                  _mm512_madd_epi16(a.odd, w.odd)));
  }
  static ireg sub(ireg a, ireg b) { return _mm512_sub_epi32(a, b); }
  static ireg load_partial(const int32_t* p, int n) {
    return _mm512_maskz_loadu_epi32(static_cast<__mmask16>((1u << n) - 1u), p);
  }
  static void store_partial(int32_t* p, ireg v, int n) {
    _mm512_mask_storeu_epi32(p, static_cast<__mmask16>((1u << n) - 1u), v);
  }
  static __m512 to_float(ireg v) { return _mm512_cvtepi32_ps(v); }
};

#if defined(__AVX512VNNI__)
// AVX-512 VNNI: vpdpbusd multiplies unsigned by signed bytes and adds the 4 products of a lane
// to it, one instruction. Activations q in [-127, 127] are stored as u8 = q + 128 (q ^ 0x80);
// the kernel subtracts the per-column compensation 128 * sum_k w[n, k], computed at pack time.
struct VecS8Vnni : VecS8 {
  static constexpr int mr = 8, nv = 3;  // 24 acc + 3 weights + 1 broadcast of 32 zmm
  static constexpr bool shifted = true;
  static constexpr int a_quad_bytes = 4;
  using wreg = __m512i;
  using areg = __m512i;
  static wreg load_w(const int8_t* p) { return _mm512_loadu_si512(p); }
  static void pack_a(const int8_t* q, uint8_t* dst) {
    uint32_t quad;
    std::memcpy(&quad, q, 4);
    quad ^= 0x80808080u;  // q + 128 in every byte
    std::memcpy(dst, &quad, 4);
  }
  static areg broadcast_a(const uint8_t* p) {
    int32_t word;
    std::memcpy(&word, p, 4);
    return _mm512_set1_epi32(word);
  }
  static ireg dot(ireg acc, areg a, wreg w) { return _mm512_dpbusd_epi32(acc, a, w); }
};
#endif

}  // namespace pt::kernels::avx512
