// LayerNorm and RMSNorm over the last axis with the residual add fused in, as the CPU kernel
// (kernels/layer_norm.cpp). rows = tokens, C = channels; x, residual: [rows, C] row views;
// out, sum_out: [rows, C] contiguous; weight, bias: [C].
//
// One block per row. s = x + residual is written once (to sum_out, or to out) and read back by
// the same thread for the later passes, so no barrier is needed between a thread's own writes
// and reads. The variance is taken around the mean in a second pass (no E[x^2] - E[x]^2
// cancellation); all sums are fp32 tree reductions (warp shuffles, then across warps).
#include <utility>

#include "cuda/common.cuh"
#include "cuda/device.h"
#include "cuda/ops.h"

namespace pt::cuda {

namespace {

// About four channels per thread, in whole warps: 32 threads for C <= 128, 1024 from C = 3969.
int threads_for(int64_t C) {
  const int64_t warps = ceil_div(ceil_div(C, 4), kWarp);
  return static_cast<int>(warps < 32 ? warps * kWarp : 1024);
}

template <bool kRms>
__global__ void norm_kernel(float* out, const float* x, int64_t x_stride, const float* residual,
                            int64_t residual_stride, float* sum_out, const float* weight,
                            const float* bias, int64_t C, float eps) {
  __shared__ float partials[kWarp];
  const int64_t row = blockIdx.x;
  const float* xr = x + row * x_stride;
  const float* rr = residual ? residual + row * residual_stride : nullptr;
  float* s = (sum_out ? sum_out : out) + row * C;
  float* o = out + row * C;

  float acc = 0.0f;  // sum(s), or sum(s^2) for RMSNorm
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float v = rr ? xr[c] + rr[c] : xr[c];
    s[c] = v;
    acc += kRms ? v * v : v;
  }
  const float total = block_sum(acc, partials);
  const float n = static_cast<float>(C);
  float mean = 0.0f, inv_std;
  if (kRms) {
    inv_std = 1.0f / sqrtf(total / n + eps);
  } else {
    mean = total / n;
    float squares = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const float d = s[c] - mean;
      squares += d * d;
    }
    inv_std = 1.0f / sqrtf(block_sum(squares, partials) / n + eps);
  }
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float y = (s[c] - mean) * inv_std * weight[c];
    o[c] = bias ? y + bias[c] : y;
  }
}

void norm(bool rms, const DeviceView& out, const DeviceView& x, const DeviceView& weight,
          const DeviceView* bias, float eps, const DeviceView* residual,
          const DeviceView* sum_out) {
  expect_dtype("x", x, DType::float32);
  const Rows xr = as_rows("x", x);
  const int64_t C = xr.cols;
  if (C == 0) fail_shape("x", "a non-empty last dimension", x.shape);
  Rows rr;
  if (residual) {
    expect_dtype("residual", *residual, DType::float32);
    expect_shape("residual", *residual, x.shape);
    rr = as_rows("residual", *residual);
  }
  for (const auto& [name, v] : {std::pair<const char*, const DeviceView*>{"weight", &weight},
                                {"bias", bias}}) {
    if (!v) continue;
    expect_dtype(name, *v, DType::float32);
    expect_shape(name, *v, {C});
    expect_contiguous(name, *v);
  }
  for (const auto& [name, v] : {std::pair<const char*, const DeviceView*>{"out", &out},
                                {"sum_out", sum_out}}) {
    if (!v) continue;
    expect_dtype(name, *v, DType::float32);
    expect_shape(name, *v, x.shape);
    expect_contiguous(name, *v);
  }
  if (!(eps >= 0.0f)) throw std::invalid_argument("eps: expected a non-negative number");
  if (xr.rows == 0) return;
  if (xr.rows > 0x7fffffff)
    throw std::invalid_argument("x: at most 2^31 - 1 rows, got shape " + shape_str(x.shape));
  auto kernel = rms ? norm_kernel<true> : norm_kernel<false>;
  kernel<<<static_cast<unsigned>(xr.rows), threads_for(C)>>>(
      static_cast<float*>(out.ptr), static_cast<const float*>(xr.ptr), xr.row_stride,
      residual ? static_cast<const float*>(rr.ptr) : nullptr, rr.row_stride,
      sum_out ? static_cast<float*>(sum_out->ptr) : nullptr, static_cast<const float*>(weight.ptr),
      bias ? static_cast<const float*>(bias->ptr) : nullptr, C, eps);
  check_launch(rms ? "rms_norm" : "layer_norm");
}

}  // namespace

void layer_norm(const DeviceView& out, const DeviceView& x, const DeviceView& weight,
                const DeviceView* bias, float eps, const DeviceView* residual,
                const DeviceView* sum_out) {
  norm(false, out, x, weight, bias, eps, residual, sum_out);
}

void rms_norm(const DeviceView& out, const DeviceView& x, const DeviceView& weight, float eps,
              const DeviceView* residual, const DeviceView* sum_out) {
  norm(true, out, x, weight, nullptr, eps, residual, sum_out);
}

}  // namespace pt::cuda
