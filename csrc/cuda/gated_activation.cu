// The gated feed-forward nonlinearity of LLaMA-style MLPs: out = act(gate) * up.
#include "cuda/activations.cuh"
#include "cuda/common.cuh"
#include "cuda/device.h"
#include "cuda/ops.h"

namespace pt::cuda {

namespace {

constexpr int kThreads = 256;

// out, gate, up: [rows, F] with their own row strides.
__global__ void gated_activation_kernel(float* out, int64_t out_stride, const float* gate,
                                        int64_t gate_stride, const float* up, int64_t up_stride,
                                        int64_t rows, int64_t F, int act) {
  for_each_cell(rows, F, [&](int64_t r, int64_t c) {
    out[r * out_stride + c] = activate(gate[r * gate_stride + c], act) * up[r * up_stride + c];
  });
}

}  // namespace

void gated_activation(const DeviceView& out, const DeviceView& gate, const DeviceView& up,
                      int activation) {
  expect_activation(activation);
  expect_dtype("out", out, DType::float32);
  expect_dtype("gate", gate, DType::float32);
  expect_dtype("up", up, DType::float32);
  expect_shape("up", up, gate.shape);
  expect_shape("out", out, gate.shape);
  const Rows o = as_rows("out", out), g = as_rows("gate", gate), u = as_rows("up", up);
  const int64_t n = o.rows * o.cols;
  if (n == 0) return;
  gated_activation_kernel<<<grid_for(n, kThreads), kThreads>>>(
      static_cast<float*>(o.ptr), o.row_stride, static_cast<const float*>(g.ptr), g.row_stride,
      static_cast<const float*>(u.ptr), u.row_stride, o.rows, o.cols, activation);
  check_launch("gated_activation");
}

}  // namespace pt::cuda
