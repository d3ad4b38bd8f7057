#include "ops/linear_int8.h"

#include <cstring>
#include <new>

#include "cpu/isa.h"

namespace pt::ops {
namespace {

void* aligned_bytes(int64_t n) {
  const size_t bytes = (static_cast<size_t>(n) + 63) & ~size_t{63};
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* copy_floats(const ConstView& v) {
  void* p = aligned_bytes(v.numel() * static_cast<int64_t>(sizeof(float)));
  std::memcpy(p, v.data, v.numel() * sizeof(float));
  return p;
}

}  // namespace

PackedLinearInt8::PackedLinearInt8(const Int8View& weight, const ConstView& scales,
                                   const ConstView* bias, const GemmS8Kernels* kernels)
    : kernels_(kernels ? kernels : &int8_kernels()) {
  expect_rank("weight", weight, 2);
  expect_contiguous("weight", weight);
  out_features_ = weight.dim(0);
  in_features_ = weight.dim(1);
  if (in_features_ == 0 || out_features_ == 0)
    fail_shape("weight", "non-zero [out_features, in_features]", weight.shape);
  for (int64_t i = 0; i < weight.numel(); ++i)
    if (weight.data[i] == -128)
      throw std::invalid_argument("weight: int8 values must lie in [-127, 127] (symmetric), got -128");
  expect_shape("scales", scales, {out_features_});
  expect_contiguous("scales", scales);
  packed_.reset(aligned_bytes(kernels_->packed_size(out_features_, in_features_)));
  kernels_->pack(weight.data, out_features_, in_features_, packed_.get());
  scales_.reset(copy_floats(scales));
  if (bias) {
    expect_shape("bias", *bias, {out_features_});
    expect_contiguous("bias", *bias);
    bias_.reset(copy_floats(*bias));
  }
}

int64_t PackedLinearInt8::check_x(const ConstView& x) const {
  expect_rank_at_least("x", x, 1);
  expect_contiguous("x", x);
  if (x.dim(-1) != in_features_)
    fail_shape("x", "last dimension " + std::to_string(in_features_) + " (in_features)", x.shape);
  return x.numel() / in_features_;
}

void PackedLinearInt8::forward(const ConstView& x, Activation act, const ConstView* residual,
                               const MutView& out) const {
  const int64_t m = check_x(x);
  Shape out_shape = x.shape;
  out_shape.back() = out_features_;
  expect_shape("out", out, out_shape);
  if (residual) {
    expect_shape("residual", *residual, out_shape);
    expect_contiguous("residual", *residual);
  }
  kernels_->gemm(x.data, in_features_, packed_.get(), static_cast<const float*>(scales_.get()),
                 static_cast<const float*>(bias_.get()), residual ? residual->data : nullptr,
                 out_features_, out.data, out_features_, m, out_features_, in_features_, act,
                 nullptr);
}

void PackedLinearInt8::accumulators(const ConstView& x, int32_t* acc) const {
  const int64_t m = check_x(x);
  kernels_->gemm(x.data, in_features_, packed_.get(), static_cast<const float*>(scales_.get()),
                 nullptr, nullptr, 0, nullptr, out_features_, m, out_features_, in_features_,
                 Activation::none, acc);
}

void quantize_rows(const ConstView& x, int8_t* q, float* scales, const GemmS8Kernels* kernels) {
  expect_rank_at_least("x", x, 1);
  expect_contiguous("x", x);
  const int64_t k = x.dim(-1);
  const int64_t rows = k == 0 ? 0 : x.numel() / k;
  (kernels ? kernels : &int8_kernels())->quantize_rows(x.data, rows, k, q, scales);
}

}  // namespace pt::ops
