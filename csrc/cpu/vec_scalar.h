// The portable fallback: a "vector" of one float. Runs on any CPU; it is also what the SIMD
// paths are checked against in the tests (same kernel source, width 1).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace pt::kernels::scalar {

struct Vec {
  using reg = float;
  static constexpr int width = 1;

  static reg zero() { return 0.0f; }
  static reg set1(float x) { return x; }
  static reg load(const float* p) { return *p; }
  static void store(float* p, reg v) { *p = v; }
  // Hint: bring the cache line holding p into L1 ahead of its use (never faults).
  static void prefetch(const float* p) { __builtin_prefetch(p); }
  static reg load_partial(const float* p, int n) { return n > 0 ? *p : 0.0f; }
  static void store_partial(float* p, reg v, int n) {
    if (n > 0) *p = v;
  }

  // Lanes past n become 0.
  static reg keep_first(reg v, int n) { return n > 0 ? v : 0.0f; }

  static reg add(reg a, reg b) { return a + b; }
  static reg sub(reg a, reg b) { return a - b; }
  static reg mul(reg a, reg b) { return a * b; }
  static reg div(reg a, reg b) { return a / b; }
  // Not std::fma: without hardware FMA that is a slow library call.
  static reg fma(reg a, reg b, reg c) { return a * b + c; }
  static reg max(reg a, reg b) { return a > b ? a : b; }
  static reg min(reg a, reg b) { return a < b ? a : b; }
  static reg abs(reg a) { return std::fabs(a); }
  static reg copysign(reg magnitude, reg sign) { return std::copysign(magnitude, sign); }
  static reg select_less(reg a, reg b, reg if_less, reg otherwise) { return a < b ? if_less : otherwise; }
  static float reduce_add(reg v) { return v; }
  static float reduce_max(reg v) { return v; }
  static reg round(reg v) { return std::nearbyint(v); }
  // 2^n for integral n in [-127, 127]; n = -127 gives exactly 0.
  static reg pow2i(reg n) {
    const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
    float out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
  }
};

}  // namespace pt::kernels::scalar
