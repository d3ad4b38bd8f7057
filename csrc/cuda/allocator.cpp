// A caching allocator: cudaMalloc and cudaFree synchronise the device and cost tens of
// microseconds, far more than a small kernel, and a model step allocates the same workspace
// sizes over and over. Freed blocks go to a free list per (device, size bin) and are handed out
// again for any request of the same bin.
//
// Bins: up to 512 bytes one bin; above, the size rounds up to a quarter of its power of two
// (at most 25% waste) but to at most 2 MiB, so that large buffers (weights, KV caches) waste at
// most 2 MiB each.
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "cuda/device.h"

namespace pt::cuda {

namespace {

constexpr size_t kMinBin = 512;
constexpr size_t kMaxGranule = size_t{2} << 20;

size_t bin_size(size_t n) {
  if (n <= kMinBin) return kMinBin;
  size_t pow2 = kMinBin;
  while (pow2 * 2 < n) pow2 *= 2;  // the largest power of two below n
  size_t granule = pow2 / 4;
  if (granule < kMinBin) granule = kMinBin;
  if (granule > kMaxGranule) granule = kMaxGranule;
  return (n + granule - 1) / granule * granule;
}

class Cache {
 public:
  void* take(int device, size_t bin) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find({device, bin});
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    return p;
  }

  void give(int device, size_t bin, void* p) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_[{device, bin}].push_back(p);
  }

  // cudaFree of every cached block, each on its own device; the current device is restored.
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    int current = 0;
    if (cudaGetDevice(&current) != cudaSuccess) {
      cudaGetLastError();
      return;
    }
    for (auto& [key, blocks] : free_) {
      if (cudaSetDevice(key.first) != cudaSuccess) continue;
      for (void* p : blocks) cudaFree(p);
    }
    free_.clear();
    cudaSetDevice(current);
    cudaGetLastError();  // a failed free (device reset or gone) is nothing the caller can act on
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<int, size_t>, std::vector<void*>> free_;
};

// Never destroyed: Buffers still alive at interpreter exit may return their blocks after static
// destructors ran; the driver reclaims device memory at process exit anyway.
Cache& cache() {
  static Cache* c = new Cache();
  return *c;
}

}  // namespace

Buffer::Buffer(size_t nbytes) : nbytes_(nbytes) {
  if (nbytes == 0) return;
  device_ = current_device();
  capacity_ = bin_size(nbytes);
  ptr_ = cache().take(device_, capacity_);
  if (ptr_) return;
  cudaError_t err = cudaMalloc(&ptr_, capacity_);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    cache().clear();
    err = cudaMalloc(&ptr_, capacity_);
  }
  if (err == cudaErrorMemoryAllocation) {
    ptr_ = nullptr;
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    cudaGetLastError();
    throw OutOfMemory("CUDA out of memory: could not allocate " + std::to_string(nbytes) +
                      " bytes (free " + std::to_string(free_bytes) + " of " +
                      std::to_string(total_bytes) + ")");
  }
  if (err != cudaSuccess) ptr_ = nullptr;
  check(err, "cudaMalloc");
}

Buffer::~Buffer() {
  if (!ptr_) return;
  try {
    cache().give(device_, capacity_, ptr_);
  } catch (...) {  // no room to cache it: free it instead (a destructor must not throw)
    cudaFree(ptr_);
    cudaGetLastError();
  }
}

void empty_cache() { cache().clear(); }

}  // namespace pt::cuda
