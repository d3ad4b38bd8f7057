// Host emulation of the parts of the CUDA runtime that csrc/cuda uses (test harness only; see
// tests/cuda_emulator/README.md). A kernel launch runs every CUDA thread of a block as a fiber
// on the calling thread: __syncthreads and warp shuffles are real barriers (a thread that never
// reaches one is reported as a deadlock), and shared memory starts every block as NaN.
// The fiber scheduler lives in runtime.cpp.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(x)

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1) : x(a) {}
};

// Set by the scheduler before it resumes a thread (one launch runs at a time).
inline dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace emu {

// Runs body once per thread of each of grid.x blocks of block.x threads; throws
// std::runtime_error for a configuration CUDA would reject or a deadlocked block.
void launch(const void* kernel, dim3 grid, dim3 block, size_t dynamic_smem,
            const std::function<void()>& body);
void block_barrier();
void warp_barrier();
float* dynamic_shared();                     // extern __shared__: NaN at each block start
void poison_shared(void* p, size_t nbytes);  // static __shared__: once per block
bool set_max_dynamic_shared(const void* kernel, int nbytes);  // false above the device's limit
inline float warp_exchange[32][32];                           // [warp][lane], for the shuffles

}  // namespace emu

inline void __syncthreads() { emu::block_barrier(); }

// Every lane of the warp must call a shuffle (full mask), as on the GPU.
inline float emu_shuffle(float v, int src_lane) {
  const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  emu::warp_exchange[warp][lane] = v;
  emu::warp_barrier();
  const float r = emu::warp_exchange[warp][src_lane & 31];
  emu::warp_barrier();  // nobody overwrites the slots before every lane has read
  return r;
}
inline float __shfl_sync(unsigned, float v, int src) { return emu_shuffle(v, src); }
inline float __shfl_xor_sync(unsigned, float v, int mask) {
  return emu_shuffle(v, static_cast<int>(threadIdx.x % 32) ^ mask);
}
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fsub_rn(float a, float b) { return a - b; }

// What `kernel<<<grid, block, smem>>>(args...)` becomes (rewrite_launches.py). Arguments are
// copied at launch, as CUDA copies kernel parameters.
template <class... P, class... A>
void emulate_launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, A... args) {
  emu::launch(reinterpret_cast<const void*>(kernel), grid, block, smem,
              [&] { kernel(static_cast<P>(args)...); });
}

enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize };
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  if (n) memcpy(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, int = 0) {
  if (n) memcpy(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, int = 0) {
  if (n) memset(d, v, n);
  return cudaSuccess;
}
template <class F>
cudaError_t cudaFuncSetAttribute(F kernel, cudaFuncAttribute, int v) {
  return emu::set_max_dynamic_shared(reinterpret_cast<const void*>(kernel), v)
             ? cudaSuccess
             : cudaErrorInvalidValue;
}
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t e) {
  return e == cudaErrorInvalidValue ? "invalid argument (emulated)" : "emulated error";
}
