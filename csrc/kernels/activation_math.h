// The activations as vector functions, shared by the elementwise kernel and the GEMM epilogue.
// The activation is a template parameter so each loop is compiled without a per-element switch;
// with_activation() turns the run-time enum into that parameter once per call.
#pragma once
#include "cpu/vec.h"
#include <type_traits>

#include "kernels/activation.h"

namespace pt::kernels::PT_ISA_NS {

template <Activation A>
inline Vec::reg activate(Vec::reg x) {
  using V = Vec;
  if constexpr (A == Activation::relu) {
    return V::max(x, V::zero());
  } else if constexpr (A == Activation::gelu) {
    // x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
    const auto half_x = V::mul(x, V::set1(0.5f));
    return V::fma(half_x, erf<V>(V::mul(x, V::set1(0.70710678118654752f))), half_x);
  } else if constexpr (A == Activation::gelu_tanh) {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const auto x3 = V::mul(V::mul(x, x), x);
    const auto inner = V::mul(V::set1(0.79788456080286536f), V::fma(x3, V::set1(0.044715f), x));
    const auto half_x = V::mul(x, V::set1(0.5f));
    return V::fma(half_x, tanh<V>(inner), half_x);
  } else if constexpr (A == Activation::silu) {
    return V::mul(x, sigmoid<V>(x));
  } else {
    return x;
  }
}

// Calls f(std::integral_constant<Activation, act>{}) so f can use the activation at compile time.
template <class F>
inline void with_activation(Activation act, F&& f) {
  switch (act) {
    case Activation::relu: f(std::integral_constant<Activation, Activation::relu>{}); break;
    case Activation::gelu: f(std::integral_constant<Activation, Activation::gelu>{}); break;
    case Activation::gelu_tanh: f(std::integral_constant<Activation, Activation::gelu_tanh>{}); break;
    case Activation::silu: f(std::integral_constant<Activation, Activation::silu>{}); break;
    default: f(std::integral_constant<Activation, Activation::none>{}); break;
  }
}

}  // namespace pt::kernels::PT_ISA_NS
