#pragma once
#include "cpu/aligned.h"
#include "kernels/kernel_table.h"
#include "ops/tensor.h"

namespace pt::ops {

using Int8View = TensorView<const int8_t>;

// The most input features an int8 Linear takes: 255 * 127 * 65536 < 2^31, so every int32
// accumulator stays exact.
constexpr int64_t kMaxInt8InFeatures = int64_t{1} << 16;

// An int8 Linear layer: y = act(x @ (w_scale * wq)^T + b) + residual, with x quantized per row
// at run time and accumulated exactly in int32 (see csrc/kernels/gemm_s8.cpp). The weight is
// packed once, at construction, for one int8 GEMM variant (the active ISA's by default), which
// the layer remembers.
class PackedLinearInt8 {
 public:
  // weight: [out_features, in_features] int8 in [-127, 127]; scales: [out_features];
  // bias: [out_features] or null; kernels: a variant, or null for the active ISA's.
  PackedLinearInt8(const Int8View& weight, const ConstView& scales, const ConstView* bias,
                   const GemmS8Kernels* kernels);

  // x: [..., in_features] -> out: [..., out_features]; residual (optional) shaped like out.
  void forward(const ConstView& x, Activation act, const ConstView* residual,
               const MutView& out) const;
  // The exact int32 accumulators sum_k q(x)[m, k] * wq[n, k] into acc [rows of x, out_features]
  // (the test hook that compares the variants).
  void accumulators(const ConstView& x, int32_t* acc) const;

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  bool has_bias() const { return static_cast<bool>(bias_); }
  const char* kernel() const { return kernels_->name; }

 private:
  const GemmS8Kernels* kernels_;
  int64_t in_features_ = 0;
  int64_t out_features_ = 0;
  AlignedPtr<void> packed_;
  AlignedPtr<float> scales_;
  AlignedPtr<float> bias_;
};

// q [rows, k] int8 and scales [rows] of x [..., k]: the dynamic per-row quantization of the int8
// GEMM, by the given variant (null: the active ISA's).
void quantize_rows(const ConstView& x, int8_t* q, float* scales, const GemmS8Kernels* kernels);

}  // namespace pt::ops
