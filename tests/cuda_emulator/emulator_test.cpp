// The emulator itself: what it must catch in a kernel (a divergent barrier or shuffle, a
// launch CUDA refuses, a missing barrier before a read or before a reuse), it catches.
#include <functional>

#include "kernels_test.h"

namespace emu_test {

namespace {

__global__ void barrier_in_branch_kernel() {
  if (threadIdx.x < 32) __syncthreads();
}
__global__ void shuffle_in_branch_kernel() {
  if (threadIdx.x % 32 < 16) __shfl_sync(0xffffffffu, 1.0f, 0);
}
__global__ void neighbour_kernel(float* out, bool sync) {
  float* s = emu::dynamic_shared();
  s[threadIdx.x] = static_cast<float>(threadIdx.x);
  if (sync) __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x];
}
__global__ void reuse_kernel(float* out, bool sync) {
  float* s = emu::dynamic_shared();
  if (threadIdx.x % 32 == 0) s[threadIdx.x / 32] = 1.0f;
  __syncthreads();
  const float a = s[0] + s[1];
  if (sync) __syncthreads();  // everyone has read s before it is written again
  if (threadIdx.x % 32 == 0) s[threadIdx.x / 32] = 10.0f;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = a;
}

}  // namespace

void run_emulator_tests() {
  auto expect_error = [](const char* what, const std::function<void()>& launch) {
    try {
      launch();
      ++failures;
      printf("FAIL emulator accepted %s\n", what);
    } catch (const std::runtime_error&) {
    }
  };
  expect_error("a divergent __syncthreads",
               [] { emulate_launch(barrier_in_branch_kernel, dim3(1), dim3(64), 0); });
  expect_error("a divergent shuffle",
               [] { emulate_launch(shuffle_in_branch_kernel, dim3(1), dim3(32), 0); });
  std::vector<float> out(2 * 64);
  expect_error("64 KiB of shared memory without opt-in", [&] {
    emulate_launch(neighbour_kernel, dim3(1), dim3(64), 64 * 1024, out.data(), true);
  });
  expect_error("a block of 48 threads",
               [&] { emulate_launch(neighbour_kernel, dim3(1), dim3(48), 256, out.data(), true); });
  // A thread reading another's shared memory without a barrier reads NaN, in either block order.
  emulate_launch(neighbour_kernel, dim3(2), dim3(64), 64 * sizeof(float), out.data(), false);
  for (int b = 0; b < 2; ++b) {
    bool nan = false;
    for (int t = 0; t < 64; ++t) nan |= std::isnan(out[b * 64 + t]);
    if (!nan) {
      ++failures;
      printf("FAIL emulator: a missing barrier went unseen in block %d\n", b);
    }
  }
  emulate_launch(neighbour_kernel, dim3(2), dim3(64), 64 * sizeof(float), out.data(), true);
  for (int i = 0; i < 128; ++i)
    if (out[i] != (float)((i % 64 + 1) % 64)) {
      ++failures;
      printf("FAIL emulator: neighbour %d\n", i);
      break;
    }
  // A warp overwriting shared memory that others may still read (no barrier before the reuse).
  for (bool sync : {false, true}) {
    emulate_launch(reuse_kernel, dim3(2), dim3(64), 2 * sizeof(float), out.data(), sync);
    for (int b = 0; b < 2; ++b) {
      bool all_two = true;
      for (int t = 0; t < 64; ++t) all_two &= out[b * 64 + t] == 2.0f;
      if (all_two != sync) {
        ++failures;
        printf("FAIL emulator: reuse without barrier %s in block %d\n", sync ? "wrong" : "unseen",
               b);
      }
    }
  }
}

}  // namespace emu_test
