#include "ops/linear.h"

#include <cstring>
#include <new>

#include "cpu/isa.h"

namespace pt::ops {
namespace {

float* aligned_floats(int64_t n) {
  const size_t bytes = (static_cast<size_t>(n) * sizeof(float) + 63) & ~size_t{63};
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<float*>(p);
}

}  // namespace

PackedLinear::PackedLinear(const ConstView& weight, const ConstView* bias)
    : kernels_(&kernels()) {
  expect_rank("weight", weight, 2);
  out_features_ = weight.dim(0);
  in_features_ = weight.dim(1);
  if (in_features_ == 0 || out_features_ == 0)
    fail_shape("weight", "non-zero [out_features, in_features]", weight.shape);
  packed_.reset(aligned_floats(kernels_->gemm_packed_size(out_features_, in_features_)));
  kernels_->gemm_pack(weight.data, out_features_, in_features_, weight.stride(0), weight.stride(1),
                      packed_.get());
  if (bias) {
    expect_shape("bias", *bias, {out_features_});
    bias_.reset(aligned_floats(out_features_));
    std::memcpy(bias_.get(), bias->data, out_features_ * sizeof(float));
  }
}

void PackedLinear::forward(const ConstView& x, Activation act, const ConstView* residual,
                           const MutView& out) const {
  expect_rank_at_least("x", x, 1);
  expect_contiguous("x", x);
  if (x.dim(-1) != in_features_)
    fail_shape("x", "last dimension " + std::to_string(in_features_) + " (in_features)", x.shape);
  Shape out_shape = x.shape;
  out_shape.back() = out_features_;
  expect_shape("out", out, out_shape);
  if (residual) {
    expect_shape("residual", *residual, out_shape);
    expect_contiguous("residual", *residual);
  }
  const int64_t m = x.numel() / in_features_;
  kernels_->gemm(x.data, in_features_, packed_.get(), bias_.get(),
                 residual ? residual->data : nullptr, out_features_, out.data, out_features_, m,
                 out_features_, in_features_, act);
}

}  // namespace pt::ops
