#include "ops/linear.h"

#include <cstring>

#include "cpu/isa.h"

namespace pt::ops {

int64_t check_linear_input(const ConstView& x, int64_t in_features) {
  expect_rank_at_least("x", x, 1);
  expect_contiguous("x", x);
  if (x.dim(-1) != in_features)
    fail_shape("x", "last dimension " + std::to_string(in_features) + " (in_features)", x.shape);
  return x.numel() / in_features;
}

int64_t check_linear_call(const ConstView& x, const ConstView* residual, const MutView& out,
                          int64_t in_features, int64_t out_features) {
  const int64_t rows = check_linear_input(x, in_features);
  Shape out_shape = x.shape;
  out_shape.back() = out_features;
  expect_shape("out", out, out_shape);
  expect_contiguous("out", out);  // the GEMM writes rows of out_features floats back to back
  if (residual) {
    expect_shape("residual", *residual, out_shape);
    expect_contiguous("residual", *residual);
  }
  return rows;
}

AlignedPtr<float> copy_vector(const char* name, const ConstView& v, int64_t n) {
  expect_shape(name, v, {n});
  expect_contiguous(name, v);
  auto copy = aligned_array<float>(static_cast<size_t>(n));
  std::memcpy(copy.get(), v.data, n * sizeof(float));
  return copy;
}

PackedLinear::PackedLinear(const ConstView& weight, const ConstView* bias)
    : kernels_(&kernels()) {
  expect_rank("weight", weight, 2);
  out_features_ = weight.dim(0);
  in_features_ = weight.dim(1);
  if (in_features_ == 0 || out_features_ == 0)
    fail_shape("weight", "non-zero [out_features, in_features]", weight.shape);
  packed_ = aligned_array<float>(kernels_->gemm_packed_size(out_features_, in_features_));
  kernels_->gemm_pack(weight.data, out_features_, in_features_, weight.stride(0), weight.stride(1),
                      packed_.get());
  if (bias) bias_ = copy_vector("bias", *bias, out_features_);
}

void PackedLinear::forward(const ConstView& x, Activation act, const ConstView* residual,
                           const MutView& out) const {
  const int64_t m = check_linear_call(x, residual, out, in_features_, out_features_);
  kernels_->gemm(x.data, in_features_, packed_.get(), bias_.get(),
                 residual ? residual->data : nullptr, out_features_, out.data, out_features_, m,
                 out_features_, in_features_, act);
}

}  // namespace pt::ops
