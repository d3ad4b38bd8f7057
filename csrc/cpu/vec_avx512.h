// 16 x float32 in one zmm register. Intrinsic mappings only: kernels never see __m512.
#pragma once
#include <immintrin.h>

namespace pt::kernels::avx512 {

struct Vec {
  using reg = __m512;
  static constexpr int width = 16;

  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float x) { return _mm512_set1_ps(x); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  // Hint: bring the cache line holding p into L1 ahead of its use (never faults).
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
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
  static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  static reg abs(reg a) { return _mm512_abs_ps(a); }
  // |magnitude| with the sign of sign.
  static reg copysign(reg magnitude, reg sign) {
    const __m512i sign_bit = _mm512_set1_epi32(0x80000000);
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        sign_bit, _mm512_castps_si512(sign), _mm512_castps_si512(magnitude), 0xe4));
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
  // 2^n for integral n in [-127, 127]; n = -127 gives exactly 0.
  static reg pow2i(reg n) {
    __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
};

}  // namespace pt::kernels::avx512
