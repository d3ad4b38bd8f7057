// A Linear layer on the device: out = act(x W^T + bias) + residual. The weight (and bias) stay
// owned by Python (Buffers it keeps alive); the layer keeps only their pointers and shapes.
// N = out_features, K = in_features, M = rows of x.
#pragma once
#include "cuda/view.h"

namespace pt::cuda {

class Linear {
 public:
  // weight: [N, K] contiguous float32, float16 or bfloat16; bias: [N] float32 or null.
  Linear(const DeviceView& weight, const DeviceView* bias);

  // out: [..., N] contiguous float32; x: [..., K] float32 rows; residual: like out, rows, or
  // null. activation: a pt::Activation code.
  void forward(const DeviceView& out, const DeviceView& x, int activation,
               const DeviceView* residual) const;

  int64_t in_features() const { return K_; }
  int64_t out_features() const { return N_; }
  DType dtype() const { return dtype_; }

 private:
  const void* weight_ = nullptr;
  const float* bias_ = nullptr;
  DType dtype_ = DType::float32;
  int64_t N_ = 0, K_ = 0;
};

}  // namespace pt::cuda
