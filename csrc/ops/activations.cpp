#include "ops/activations.h"

#include "cpu/isa.h"

namespace pt::ops {

void activation(const ConstView& x, Activation act, const MutView& out) {
  expect_contiguous("x", x);
  expect_shape("out", out, x.shape);
  kernels().activation(x.data, out.data, x.numel(), act);
}

void gated_activation(const ConstView& gate, const ConstView& up, Activation act,
                      const MutView& out) {
  expect_contiguous("gate", gate);
  expect_contiguous("up", up);
  expect_shape("up", up, gate.shape);
  expect_shape("out", out, gate.shape);
  kernels().gated_activation(gate.data, up.data, out.data, gate.numel(), act);
}

}  // namespace pt::ops
