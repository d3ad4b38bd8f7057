// Host emulation of __half: IEEE binary16 bits, converted in software with round to nearest
// even (what __float2half_rn does), so that no compiler support for _Float16 is needed.
#pragma once
#include <algorithm>

#include "cuda_runtime.h"

struct __half {
  uint16_t bits;
};

inline __half __float2half_rn(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t exponent = (x >> 23) & 0xff, mantissa = x & 0x7fffff;
  if (exponent == 0xff) return {static_cast<uint16_t>(sign | 0x7c00 | (mantissa ? 0x200 : 0))};
  const int e = static_cast<int>(exponent) - 127 + 15;
  if (e >= 31) return {static_cast<uint16_t>(sign | 0x7c00)};  // overflow: infinity
  // Normal: drop 13 mantissa bits; subnormal (e <= 0): the value in units of 2^-24.
  const int shift = e > 0 ? 13 : 14 - e;
  if (shift > 24) return {sign};  // below half the smallest subnormal: zero
  const uint32_t m = e > 0 ? mantissa : mantissa | 0x800000;
  uint32_t half = (e > 0 ? static_cast<uint32_t>(e) << 10 : 0) | (m >> shift);
  const uint32_t rest = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (half & 1))) ++half;  // a carry rounds up correctly
  return {static_cast<uint16_t>(sign | half)};
}

inline float __half2float(__half h) {
  const uint32_t sign = static_cast<uint32_t>(h.bits & 0x8000) << 16;
  const uint32_t exponent = (h.bits >> 10) & 0x1f, mantissa = h.bits & 0x3ff;
  if (exponent == 0) {
    const float f = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -f : f;
  }
  const uint32_t x =
      sign | (exponent == 31 ? 0x7f800000u : (exponent + 112) << 23) | (mantissa << 13);
  float f;
  memcpy(&f, &x, 4);
  return f;
}
