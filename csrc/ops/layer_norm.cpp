#include "ops/layer_norm.h"

#include "cpu/isa.h"

namespace pt::ops {
namespace {

// Checks shared by both norms; returns the number of rows.
int64_t check_norm_args(const ConstView& x, const ConstView* residual, const ConstView& gamma,
                        const ConstView* beta, float eps, const MutView& out,
                        const MutView* sum_out) {
  expect_rank_at_least("x", x, 1);
  expect_contiguous("x", x);
  const int64_t C = x.dim(-1);
  if (C == 0) fail_shape("x", "a non-empty last dimension", x.shape);
  if (residual) {
    expect_shape("residual", *residual, x.shape);
    expect_contiguous("residual", *residual);
  }
  expect_shape("weight", gamma, {C});
  expect_contiguous("weight", gamma);
  if (beta) {
    expect_shape("bias", *beta, {C});
    expect_contiguous("bias", *beta);
  }
  expect_shape("out", out, x.shape);
  expect_contiguous("out", out);
  if (sum_out) {
    expect_shape("sum_out", *sum_out, x.shape);
    expect_contiguous("sum_out", *sum_out);
  }
  if (!(eps >= 0.0f)) throw std::invalid_argument("eps: expected a non-negative number");
  return x.numel() / C;
}

}  // namespace

void layer_norm(const ConstView& x, const ConstView* residual, const ConstView& gamma,
                const ConstView* beta, float eps, const MutView& out, const MutView* sum_out) {
  const int64_t rows = check_norm_args(x, residual, gamma, beta, eps, out, sum_out);
  kernels().layer_norm(x.data, residual ? residual->data : nullptr, gamma.data,
                       beta ? beta->data : nullptr, out.data, sum_out ? sum_out->data : nullptr,
                       rows, x.dim(-1), eps);
}

void rms_norm(const ConstView& x, const ConstView* residual, const ConstView& gamma, float eps,
              const MutView& out, const MutView* sum_out) {
  const int64_t rows = check_norm_args(x, residual, gamma, nullptr, eps, out, sum_out);
  kernels().rms_norm(x.data, residual ? residual->data : nullptr, gamma.data, out.data,
                     sum_out ? sum_out->data : nullptr, rows, x.dim(-1), eps);
}

}  // namespace pt::ops
