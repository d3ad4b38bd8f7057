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
  // The portable build has no cache-bypassing store: a plain one, needing no fence.
  static void stream(float* p, reg v) { *p = v; }
  static void stream_fence() {}
  // Hint: bring the cache line holding p into L1 ahead of its use (never faults).
  static void prefetch(const float* p) { __builtin_prefetch(p); }
  // Hint: bring it into L2 only (for data read once, far ahead of its use).
  static void prefetch_l2(const float* p) { __builtin_prefetch(p, 0, 2); }
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
  static reg reciprocal(reg a) { return 1.0f / a; }
  static reg max(reg a, reg b) { return a > b ? a : b; }
  static reg min(reg a, reg b) { return a < b ? a : b; }
  static reg abs(reg a) { return std::fabs(a); }
  static reg copysign(reg magnitude, reg sign) { return std::copysign(magnitude, sign); }
  static reg select_less(reg a, reg b, reg if_less, reg otherwise) { return a < b ? if_less : otherwise; }
  static float reduce_add(reg v) { return v; }
  static float reduce_max(reg v) { return v; }
  static reg round(reg v) { return std::nearbyint(v); }
  // The first n lanes, integral and within [-128, 127], stored as int8 (n in [0, width]).
  static void store_int8(int8_t* p, reg v, int n) {
    if (n > 0) *p = static_cast<int8_t>(static_cast<int>(v));
  }
  // 2^n for integral n in [-127, 127]; n = -127 gives exactly 0.
  static reg pow2i(reg n) {
    const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
    float out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
  }
  // A 1 x 1 block is its own transpose.
  static void transpose(reg (&)[width]) {}
};

// int8 x int8 -> int32 dot products for the int8 GEMM, one column a "register": the plain
// integer maths every SIMD mapping must reproduce exactly (the oracle of the int8 tests).
struct VecS8 {
  using ireg = int32_t;
  static constexpr int width = 1;
  static constexpr int mr = 4, nv = 4;
  static constexpr bool shifted = false;
  static constexpr int a_quad_bytes = 4;
  struct wreg { int32_t v[4]; };
  using areg = wreg;

  static ireg zero() { return 0; }
  static wreg load_w(const int8_t* p) { return {{p[0], p[1], p[2], p[3]}}; }
  static void pack_a(const int8_t* q, uint8_t* dst) { std::memcpy(dst, q, 4); }
  static areg broadcast_a(const uint8_t* p) {
    int8_t q[4];
    std::memcpy(q, p, 4);
    return {{q[0], q[1], q[2], q[3]}};
  }
  static ireg dot(ireg acc, const areg& a, const wreg& w) {
    return acc + a.v[0] * w.v[0] + a.v[1] * w.v[1] + a.v[2] * w.v[2] + a.v[3] * w.v[3];
  }
  static ireg sub(ireg a, ireg b) { return a - b; }
  static ireg load_partial(const int32_t* p, int n) { return n > 0 ? *p : 0; }
  static void store_partial(int32_t* p, ireg v, int n) {
    if (n > 0) *p = v;
  }
  static float to_float(ireg v) { return static_cast<float>(v); }
};

}  // namespace pt::kernels::scalar
