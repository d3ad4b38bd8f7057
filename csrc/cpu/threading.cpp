#include "cpu/threading.h"

#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

namespace pt {
namespace {

std::atomic<int>& thread_count() {
  static std::atomic<int> count{omp_get_max_threads()};
  return count;
}

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};

struct Scratch {
  std::unique_ptr<float, AlignedFree> data;
  size_t capacity = 0;
};

}  // namespace

int num_threads() { return thread_count().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("num_threads must be >= 1, got " + std::to_string(n));
  thread_count().store(n, std::memory_order_relaxed);
}

float* thread_scratch(int slot, size_t floats) {
  thread_local Scratch scratch[kScratchSlots];
  Scratch& s = scratch[slot];
  if (s.capacity < floats) {
    // Round up so that slowly growing requests do not reallocate every call.
    const size_t capacity = (floats + 4095) & ~size_t{4095};
    void* p = std::aligned_alloc(64, capacity * sizeof(float));
    if (p == nullptr) throw std::bad_alloc();
    s.data.reset(static_cast<float*>(p));
    s.capacity = capacity;
  }
  return s.data.get();
}

}  // namespace pt
