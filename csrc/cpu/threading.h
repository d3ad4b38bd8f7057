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

}  // namespace pt
