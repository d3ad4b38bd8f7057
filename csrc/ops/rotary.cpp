#include "ops/rotary.h"

#include "cpu/isa.h"
#include "kernels/rotary_features.h"

namespace pt::ops {

void rotary(const ConstView& x, const TensorView<const int64_t>& positions, float base,
            const MutView& out, int64_t rotary_dim) {
  expect_rank("x", x, 4);
  expect_unit_last_stride("x", x);
  expect_shape("out", out, x.shape);
  const int64_t B = x.dim(0), H = x.dim(1), T = x.dim(2), D = x.dim(3);
  const int64_t R = rotated_features(rotary_dim, D);
  if (R % 2 != 0) fail_shape("x", "an even head dimension (last axis)", x.shape);
  expect_contiguous("positions", positions);
  int64_t positions_stride_b = 0;
  if (positions.rank() == 1) {
    expect_shape("positions", positions, {T});
  } else {
    expect_shape("positions", positions, {B, T});
    positions_stride_b = T;
  }
  if (!(base > 0.0f)) throw std::invalid_argument("base: expected a positive number");
  if (x.numel() == 0) return;
  kernels().rotary(x.data, x.stride(0), x.stride(1), x.stride(2), positions.data, out.data, B, H,
                   T, D, R, positions_stride_b, base);
}

}  // namespace pt::ops
