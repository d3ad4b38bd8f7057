#pragma once
#include <cstdlib>
#include <memory>

#include "kernels/kernel_table.h"
#include "ops/tensor.h"

namespace pt::ops {

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
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  const KernelTable* kernels_;
  int64_t in_features_ = 0;
  int64_t out_features_ = 0;
  std::unique_ptr<float, Free> packed_;
  std::unique_ptr<float, Free> bias_;
};

}  // namespace pt::ops
