// Elementwise sum of two float32 row views (a residual add outside a fused epilogue).
#include "cuda/common.cuh"
#include "cuda/device.h"
#include "cuda/ops.h"

namespace pt::cuda {

namespace {

constexpr int kThreads = 256;

// dst, a, b: [rows, cols] with their own row strides.
__global__ void add_kernel(float* dst, int64_t dst_stride, const float* a, int64_t a_stride,
                           const float* b, int64_t b_stride, int64_t rows, int64_t cols) {
  for_each_cell(rows, cols, [&](int64_t r, int64_t c) {
    dst[r * dst_stride + c] = a[r * a_stride + c] + b[r * b_stride + c];
  });
}

}  // namespace

void add(const DeviceView& dst, const DeviceView& a, const DeviceView& b) {
  expect_dtype("dst", dst, DType::float32);
  expect_dtype("a", a, DType::float32);
  expect_dtype("b", b, DType::float32);
  expect_shape("a", a, dst.shape);
  expect_shape("b", b, dst.shape);
  const Rows d = as_rows("dst", dst), x = as_rows("a", a), y = as_rows("b", b);
  const int64_t n = d.rows * d.cols;
  if (n == 0) return;
  add_kernel<<<grid_for(n, kThreads), kThreads>>>(
      static_cast<float*>(d.ptr), d.row_stride, static_cast<const float*>(x.ptr), x.row_stride,
      static_cast<const float*>(y.ptr), y.row_stride, d.rows, d.cols);
  check_launch("add");
}

}  // namespace pt::cuda
