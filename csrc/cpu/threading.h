// Thread count and per-thread scratch memory, shared by every kernel. Defined in a translation
// unit built without ISA flags, so kernels of every ISA can call it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pt {

// Threads each parallel kernel uses (default: OpenMP's default, i.e. OMP_NUM_THREADS or cores).
int num_threads();
void set_num_threads(int64_t n);

// Throws std::invalid_argument naming `name` unless 1 <= n <= 4 per logical CPU. Many more
// threads than CPUs only measure the scheduler, and asking OpenMP for a million threads
// crashes inside its runtime (each thread's stack) instead of failing cleanly.
void check_thread_count(int64_t n, const char* name);

// A 64-byte aligned buffer of at least `floats` floats owned by the calling thread, reused across
// calls (it only grows). `slot` selects one of a few independent buffers so a kernel can hold
// several at once. Valid until the same thread asks for the same slot again.
constexpr int kScratchSlots = 4;
float* thread_scratch(int slot, size_t floats);

// Parallel loops and regions that stay off OpenMP when they run on one thread. A region whose
// `if` clause comes out false still starts a team of one, and libgomp reuses its last team only
// for a region of the same size: a decode step's serial ops (norms, cache writes, short
// attention) between its 2-thread GEMMs allocated and freed a team (~1.5 KiB) each, dozens a
// step. These call the body on the calling thread instead when `parallel` is false or one
// thread is set.

// body(i) for every i in [0, n): in static contiguous shares over num_threads() threads, or in
// order on the calling thread.
template <class Body>
void parallel_for(int64_t n, bool parallel, Body&& body) {
  if (parallel && num_threads() > 1) {
#pragma omp parallel for num_threads(num_threads()) schedule(static)
    for (int64_t i = 0; i < n; ++i) body(i);
  } else {
    for (int64_t i = 0; i < n; ++i) body(i);
  }
}

// body() on each of num_threads() threads, or once on the calling thread.
template <class Body>
void parallel_region(bool parallel, Body&& body) {
  if (parallel && num_threads() > 1) {
#pragma omp parallel num_threads(num_threads())
    body();
  } else {
    body();
  }
}

}  // namespace pt
