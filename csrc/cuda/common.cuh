// Small device helpers shared by the kernels: launch sizes and warp/block reductions.
#pragma once
#include <cstdint>

namespace pt::cuda {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Blocks for a grid-stride loop over n items with `threads` per block: enough to fill any GPU
// (the loop covers the rest), and within the grid's x limit.
inline unsigned grid_for(int64_t n, int threads) {
  const int64_t blocks = ceil_div(n, threads);
  return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
}

// body(i) for every i in [0, n), spread over the whole grid: a grid-stride loop, so any launch
// size (grid_for caps it) covers any n.
template <class Body>
__device__ __forceinline__ void for_each_index(int64_t n, Body body) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    body(i);
}

// body(r, c) for every cell of a [rows, cols] grid, as for_each_index.
template <class Body>
__device__ __forceinline__ void for_each_cell(int64_t rows, int64_t cols, Body body) {
  for_each_index(rows * cols, [&](int64_t i) { body(i / cols, i % cols); });
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// The sum of v over the block, returned to every thread. blockDim.x must be a multiple of 32;
// `partials` is shared memory for 32 floats, reusable by the next call (the first barrier
// waits until every thread has read the previous call's partials).
__device__ __forceinline__ float block_sum(float v, float* partials) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) partials[warp] = v;
  __syncthreads();
  v = lane < static_cast<int>(blockDim.x / kWarp) ? partials[lane] : 0.0f;
  return warp_sum(v);
}

}  // namespace pt::cuda
