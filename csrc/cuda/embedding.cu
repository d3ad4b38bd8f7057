// Token embedding lookup: out[i, :] = table[ids[i], :] * scale. n = tokens, E = channels,
// V = vocabulary. ids: [n] int64; table: [V, E] contiguous; out: [n, E] rows.
// Python checks the ids against V; an id outside [0, V) still never reads out of bounds here:
// its row becomes zeros.
#include "cuda/common.cuh"
#include "cuda/device.h"
#include "cuda/ops.h"

namespace pt::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void embedding_kernel(float* out, int64_t out_stride, const int64_t* ids,
                                 const float* table, int64_t V, int64_t n, int64_t E,
                                 float scale) {
  for_each_cell(n, E, [&](int64_t r, int64_t c) {
    const int64_t id = ids[r];
    out[r * out_stride + c] = id >= 0 && id < V ? table[id * E + c] * scale : 0.0f;
  });
}

}  // namespace

void embedding(const DeviceView& out, const DeviceView& ids, const DeviceView& table,
               float scale) {
  expect_dtype("ids", ids, DType::int64);
  expect_contiguous("ids", ids);
  expect_dtype("table", table, DType::float32);
  expect_rank("table", table, 2);
  expect_contiguous("table", table);
  expect_dtype("out", out, DType::float32);
  std::vector<int64_t> expected = ids.shape;
  expected.push_back(table.dim(1));
  expect_shape("out", out, expected);
  const Rows o = as_rows("out", out);
  const int64_t n = o.rows * o.cols;
  if (n == 0) return;
  embedding_kernel<<<grid_for(n, kThreads), kThreads>>>(
      static_cast<float*>(o.ptr), o.row_stride, static_cast<const int64_t*>(ids.ptr),
      static_cast<const float*>(table.ptr), table.dim(0), o.rows, o.cols, scale);
  check_launch("embedding");
}

}  // namespace pt::cuda
