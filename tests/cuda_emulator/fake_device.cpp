// csrc/cuda/device.h for the host emulator: one "device" whose memory is host memory. Every
// Buffer starts as 0xff bytes (NaN as float) so that a kernel reading memory nobody wrote shows
// up in the results; there is no cache, so freed memory is really freed.
#include <cstdlib>
#include <cstring>
#include <new>

#include "cuda/device.h"

namespace pt::cuda {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}
void check_launch(const char*) {}  // emu::launch throws at once instead
int device_count() { return 1; }
std::string runtime_error() { return ""; }
std::string device_name(int) { return "host emulation"; }
void set_device(int) {}
int current_device() { return 0; }
void synchronize() {}
void memory_info(size_t* free_bytes, size_t* total_bytes) { *free_bytes = *total_bytes = 0; }
void empty_cache() {}

Buffer::Buffer(size_t n) : nbytes_(n) {
  if (!n) return;
  ptr_ = malloc(n);
  if (!ptr_) throw OutOfMemory("emulated device: out of memory");
  memset(ptr_, 0xff, n);
}
Buffer::~Buffer() { free(ptr_); }

}  // namespace pt::cuda
