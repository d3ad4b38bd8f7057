// The activation functions on the device, shared by the Linear epilogue and gated_activation.
// The codes are pt::Activation's (kernels/activation.h), so Python passes the same enum values to
// the CPU and CUDA modules. The formulas are the CPU kernels' (kernels/activation_math.h), in
// full-precision device maths (the build does not use --use_fast_math).
#pragma once
#include <stdexcept>
#include <string>

#include "kernels/activation.h"

namespace pt::cuda {

inline void expect_activation(int act) {
  if (act < 0 || act > static_cast<int>(Activation::silu))
    throw std::invalid_argument("activation: unknown code " + std::to_string(act));
}

// `act` is uniform across a launch, so the switch costs no divergence.
__device__ __forceinline__ float activate(float x, int act) {
  const float half_x = 0.5f * x;
  switch (static_cast<Activation>(act)) {
    case Activation::relu:
      return fmaxf(x, 0.0f);
    case Activation::gelu:  // x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
      return fmaf(half_x, erff(x * 0.70710678118654752f), half_x);
    case Activation::gelu_tanh: {  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      const float inner = 0.79788456080286536f * fmaf(x * x * x, 0.044715f, x);
      return fmaf(half_x, tanhf(inner), half_x);
    }
    case Activation::silu:  // x * sigmoid(x); for very negative x, exp overflows and this gives -0
      return x * (1.0f / (1.0f + expf(-x)));
    default:
      return x;
  }
}

}  // namespace pt::cuda
