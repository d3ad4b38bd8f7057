#include "ops/linear_int8.h"

#include <string>

#include "cpu/isa.h"
#include "ops/linear.h"

namespace pt::ops {

PackedLinearInt8::PackedLinearInt8(const Int8View& weight, const ConstView& scales,
                                   const ConstView* bias, const GemmS8Kernels* kernels)
    : kernels_(kernels ? kernels : &int8_kernels()) {
  expect_rank("weight", weight, 2);
  expect_contiguous("weight", weight);
  out_features_ = weight.dim(0);
  in_features_ = weight.dim(1);
  if (in_features_ == 0 || out_features_ == 0)
    fail_shape("weight", "non-zero [out_features, in_features]", weight.shape);
  // |sum_k (q + 128) w| <= 255 * 127 * in_features must stay below 2^31 (exact int32 sums).
  if (in_features_ > kMaxInt8InFeatures)
    fail_shape("weight", "at most " + std::to_string(kMaxInt8InFeatures) +
                             " in_features (int32 accumulators)", weight.shape);
  for (int64_t i = 0; i < weight.numel(); ++i)
    if (weight.data[i] == -128)
      throw std::invalid_argument("weight: int8 values must lie in [-127, 127] (symmetric), got -128");
  scales_ = copy_vector("scales", scales, out_features_);
  packed_.reset(aligned_bytes(kernels_->packed_size(out_features_, in_features_)));
  kernels_->pack(weight.data, out_features_, in_features_, packed_.get());
  if (bias) bias_ = copy_vector("bias", *bias, out_features_);
}

void PackedLinearInt8::forward(const ConstView& x, Activation act, const ConstView* residual,
                               const MutView& out) const {
  const int64_t m = check_linear_call(x, residual, out, in_features_, out_features_);
  kernels_->gemm(x.data, in_features_, packed_.get(), scales_.get(), bias_.get(),
                 residual ? residual->data : nullptr, out_features_, out.data, out_features_, m,
                 out_features_, in_features_, act, nullptr);
}

void PackedLinearInt8::accumulators(const ConstView& x, int32_t* acc) const {
  const int64_t m = check_linear_input(x, in_features_);
  kernels_->gemm(x.data, in_features_, packed_.get(), scales_.get(), nullptr, nullptr, 0,
                 nullptr, out_features_, m, out_features_, in_features_, Activation::none, acc);
}

void quantize_rows(const ConstView& x, int8_t* q, float* scales, const GemmS8Kernels* kernels) {
  expect_rank_at_least("x", x, 1);
  expect_contiguous("x", x);
  const int64_t k = x.dim(-1);
  int64_t rows = 1;
  for (int64_t i = 0; i + 1 < x.rank(); ++i) rows *= x.dim(i);
  if (k == 0) {  // an empty row: nothing to scale
    for (int64_t r = 0; r < rows; ++r) scales[r] = 0.0f;
    return;
  }
  (kernels ? kernels : &int8_kernels())->quantize_rows(x.data, rows, k, q, scales);
}

}  // namespace pt::ops
