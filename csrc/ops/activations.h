#pragma once
#include "kernels/activation.h"
#include "ops/tensor.h"

namespace pt::ops {

// out = act(x), elementwise.
void activation(const ConstView& x, Activation act, const MutView& out);

// out = act(gate) * up, elementwise (the gate of SwiGLU / GeGLU feed-forward layers).
void gated_activation(const ConstView& gate, const ConstView& up, Activation act,
                      const MutView& out);

}  // namespace pt::ops
