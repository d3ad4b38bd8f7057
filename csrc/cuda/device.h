// The CUDA runtime as the op fronts see it: queries that never throw (a build without a usable
// GPU must still import), error checks that turn every failure into a C++ exception (so nothing
// reachable from Python aborts), the caching allocator behind Buffer, and the per-device cuBLAS
// handle. Everything runs on the legacy default stream, so work is ordered by issue order.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <stdexcept>
#include <string>

namespace pt::cuda {

// Raised for a failed allocation after the cache was emptied; the bindings map it to MemoryError.
struct OutOfMemory : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws std::runtime_error("<what>: <CUDA error string>") unless err is cudaSuccess.
void check(cudaError_t err, const char* what);
// After a kernel launch: reports launch errors (bad configuration, no kernel image) and earlier
// asynchronous faults that the runtime reports here.
void check_launch(const char* kernel);

int device_count();          // 0 when there is no driver or no device; never throws
std::string runtime_error();  // "" when the current device can run our kernels, else why not
std::string device_name(int index);
void set_device(int index);
int current_device();
void synchronize();
void memory_info(size_t* free_bytes, size_t* total_bytes);

// Device memory from the caching allocator; returns it to the cache when destroyed. Kernels
// are issued on one stream, so a block freed here and handed out again is only touched by work
// issued after everything that used it before: reuse needs no synchronisation.
class Buffer {
 public:
  explicit Buffer(size_t nbytes);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* ptr() const { return ptr_; }
  size_t nbytes() const { return nbytes_; }

 private:
  void* ptr_ = nullptr;
  size_t nbytes_ = 0;    // as requested
  size_t capacity_ = 0;  // the size bin actually allocated
  int device_ = 0;
};

// Frees every cached (unused) block on every device.
void empty_cache();

}  // namespace pt::cuda
