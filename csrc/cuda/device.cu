#include "cuda/device.h"

namespace pt::cuda {

namespace {

// Launched never; its attributes tell whether this build carries code the device can run
// (a cubin for its architecture, or PTX old enough to JIT), which device_count() cannot.
__global__ void probe_kernel() {}

}  // namespace

void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so that the next call starts clean
  throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

void check_launch(const char* kernel) {
  check(cudaGetLastError(), (std::string("CUDA kernel ") + kernel).c_str());
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

std::string runtime_error() {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err == cudaSuccess && n == 0) return "no CUDA device found";
  if (err == cudaSuccess) {
    cudaFuncAttributes attr;
    err = cudaFuncGetAttributes(&attr, probe_kernel);
    if (err == cudaErrorInvalidDeviceFunction || err == cudaErrorNoKernelImageForDevice) {
      cudaGetLastError();
      return std::string(cudaGetErrorString(err)) +
             " (this build's CUDA architectures do not cover the device; rebuild with the "
             "device's, e.g. -DCMAKE_CUDA_ARCHITECTURES=89-real for sm_89)";
    }
  }
  if (err == cudaSuccess) return "";
  cudaGetLastError();
  return cudaGetErrorString(err);
}

std::string device_name(int index) {
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties");
  return prop.name;
}

void set_device(int index) { check(cudaSetDevice(index), "cudaSetDevice"); }

int current_device() {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  return device;
}

void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

void memory_info(size_t* free_bytes, size_t* total_bytes) {
  check(cudaMemGetInfo(free_bytes, total_bytes), "cudaMemGetInfo");
}

}  // namespace pt::cuda
