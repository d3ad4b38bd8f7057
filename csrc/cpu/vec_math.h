// Transcendental functions written once over a vector type V (see vec_*.h). Accuracy is a few
// ulp over the ranges the activations and softmax use; tests check them against libm.
#pragma once

namespace pt::kernels::PT_ISA_NS {

// c0 x^n + c1 x^(n-1) + ... + cn by Horner's rule, the highest power's coefficient first: one
// FMA per coefficient after it.
template <class V, class... Rest>
inline typename V::reg polynomial(typename V::reg x, float c0, Rest... rest) {
  auto p = V::set1(c0);
  ((p = V::fma(p, x, V::set1(static_cast<float>(rest)))), ...);
  return p;
}

// max(lo, x) then min(hi, ...): with the bound first, a NaN x comes through both (V::max and
// V::min return their second operand when either is NaN), so a NaN input gives a NaN result, as
// in libm, and a softmax over a row holding a NaN is NaN rather than silently finite.
template <class V>
inline typename V::reg clamp_keeping_nan(typename V::reg x, float lo, float hi) {
  return V::min(V::set1(hi), V::max(V::set1(lo), x));
}

// e^x. Range reduction x = n ln2 + r, |r| <= ln2/2, then a degree-6 polynomial for e^r
// (Cephes expf coefficients). x is clamped so that e^x is finite: below -88 the result is
// exactly 0 (2^-127 underflows to zero in pow2i), above 88.37 it saturates near FLT_MAX.
template <class V>
inline typename V::reg exp(typename V::reg x) {
  x = clamp_keeping_nan<V>(x, -88.0f, 88.37f);
  const auto n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  auto r = V::fma(n, V::set1(-0.693359375f), x);  // ln2 split hi/lo for an exact reduction
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  auto p = polynomial<V>(r, 1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                         4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f);
  p = V::fma(p, V::mul(r, r), V::add(r, V::set1(1.0f)));
  return V::mul(p, V::pow2i(n));
}

// 2^x, for softmax in base 2: attention folds log2(e) into its scale, so e^s = 2^(s log2(e))
// and the range reduction is exact with no ln2 split: x = n + f, n = round(x), |f| <= 1/2.
// 2^f by a degree-6 polynomial (fitted for relative error on [-1/2, 1/2]: 1.5e-8 with these
// float coefficients, in exact arithmetic), 2^n into the exponent. x is clamped to [-127, 127]:
// at -127 and below (masked scores are -inf) the result is exactly 0, as in exp.
template <class V>
inline typename V::reg exp2(typename V::reg x) {
  x = clamp_keeping_nan<V>(x, -127.0f, 127.0f);
  const auto n = V::round(x);
  const auto f = V::sub(x, n);
  const auto p = polynomial<V>(f, 1.5394334332086146e-4f, 1.3388522202149034e-3f,
                               9.618211537599564e-3f, 5.550358444452286e-2f,
                               2.4022650718688965e-1f, 6.931471824645996e-1f, 1.0f);
  return V::mul(p, V::pow2i(n));
}

// erf(x) as an odd rational minimax approximation on [-4, 4] (erf is +-1 to fp32 precision
// beyond). Coefficients are Eigen's generic_fast_erf_float.
template <class V>
inline typename V::reg erf(typename V::reg x) {
  x = clamp_keeping_nan<V>(x, -4.0f, 4.0f);
  const auto x2 = V::mul(x, x);
  const auto p = V::mul(
      polynomial<V>(x2, -2.72614225801306e-10f, 2.77068142495902e-08f, -2.10102402082508e-06f,
                    -5.69250639462346e-05f, -7.34990630326855e-04f, -2.95459980854025e-03f,
                    -1.60960333262415e-02f),
      x);
  const auto q = polynomial<V>(x2, -1.45660718464996e-05f, -2.13374055278905e-04f,
                               -1.68282697438203e-03f, -7.37332916720468e-03f,
                               -1.42647390514189e-02f);
  // Beyond |x| = 3.9, erf(x) rounds to +-1 in fp32: return that exactly, so that GELU's
  // 0.5 x (1 + erf) is exactly 0 for large negative x whatever the reciprocal's last bit.
  const auto one = V::copysign(V::set1(1.0f), x);
  return V::select_less(V::abs(x), V::set1(3.9f), V::mul(p, V::reciprocal(q)), one);
}

// tanh(x) = 1 - 2 / (e^{2x} + 1), exactly +-1 beyond |x| = 9 (where fp32 tanh rounds to it),
// so that 0.5 x (1 + tanh) vanishes exactly for large negative x.
template <class V>
inline typename V::reg tanh(typename V::reg x) {
  const auto e = exp<V>(V::add(x, x));
  const auto t = V::fma(V::set1(-2.0f), V::reciprocal(V::add(e, V::set1(1.0f))), V::set1(1.0f));
  return V::select_less(V::abs(x), V::set1(9.0f), t, V::copysign(V::set1(1.0f), x));
}

// 1 / (1 + e^{-x})
template <class V>
inline typename V::reg sigmoid(typename V::reg x) {
  const auto e = exp<V>(V::sub(V::zero(), x));
  return V::reciprocal(V::add(e, V::set1(1.0f)));
}

}  // namespace pt::kernels::PT_ISA_NS
