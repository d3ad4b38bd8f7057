#include "cpu/threading.h"

#include <omp.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "cpu/aligned.h"

namespace pt {
namespace {

std::atomic<int>& thread_count() {
  static std::atomic<int> count{omp_get_max_threads()};
  return count;
}

struct Scratch {
  AlignedPtr<float> data;
  size_t capacity = 0;
};

}  // namespace

int num_threads() { return thread_count().load(std::memory_order_relaxed); }

void check_thread_count(int64_t n, const char* name) {
  const int most = 4 * omp_get_num_procs();
  if (n < 1 || n > most)
    throw std::invalid_argument(std::string(name) + ": expected between 1 and " +
                                std::to_string(most) + " threads (4 per logical CPU), got " +
                                std::to_string(n));
}

void set_num_threads(int64_t n) {
  check_thread_count(n, "n");
  thread_count().store(static_cast<int>(n), std::memory_order_relaxed);
}

float* thread_scratch(int slot, size_t floats) {
  thread_local Scratch scratch[kScratchSlots];
  Scratch& s = scratch[slot];
  if (s.capacity < floats) {
    // Round up so that slowly growing requests do not reallocate every call.
    const size_t capacity = (floats + 4095) & ~size_t{4095};
    s.data = aligned_array<float>(capacity);
    s.capacity = capacity;
  }
  return s.data.get();
}

}  // namespace pt
