#pragma once
#include "cpu/aligned.h"
#include "kernels/kernel_table.h"
#include "ops/tensor.h"

namespace pt::ops {

// Checks shared by the float32 and int8 Linear layers.
// x: [..., in_features], contiguous; returns its rows.
int64_t check_linear_input(const ConstView& x, int64_t in_features);
// The above, plus out [..., out_features] and residual (optional) shaped like out.
int64_t check_linear_call(const ConstView& x, const ConstView* residual, const MutView& out,
                          int64_t in_features, int64_t out_features);
// An aligned copy of `name`, which must be a contiguous [n] vector (a bias, the scales).
AlignedPtr<float> copy_vector(const char* name, const ConstView& v, int64_t n);

// A Linear layer (y = act(x @ W^T + b) + residual) whose weight is packed once, at construction,
// into the panel layout of the active ISA's GEMM. The layer remembers which ISA packed it, so it
// stays valid if the active ISA is changed afterwards.
class PackedLinear {
 public:
  // weight: [out_features, in_features] (PyTorch's layout); bias: [out_features] or null.
  PackedLinear(const ConstView& weight, const ConstView* bias);

  // x: [..., in_features] -> out: [..., out_features]; residual (optional) shaped like out.
  void forward(const ConstView& x, Activation act, const ConstView* residual,
               const MutView& out) const;

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  bool has_bias() const { return static_cast<bool>(bias_); }
  const char* isa() const { return kernels_->isa; }

 private:
  const KernelTable* kernels_;
  int64_t in_features_ = 0;
  int64_t out_features_ = 0;
  AlignedPtr<float> packed_;
  AlignedPtr<float> bias_;
};

}  // namespace pt::ops
