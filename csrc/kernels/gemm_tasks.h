// How the float32 and int8 GEMMs share C [m rows, panels of NR columns] among threads.
// Included by kernel sources only (it lives in the ISA's namespace like them).
#pragma once
#include <cstdint>

#include "cpu/vec.h"

namespace pt::kernels::PT_ISA_NS {

// Runs block(row0, rows, panel_begin, panel_end) over tasks covering C, handed out
// dynamically (the cores are often shared: a thread that lost its core for a while must not
// leave the others waiting on a fixed share). Rows go in equal blocks of at most max_rows (a
// multiple of mr, so no block is a short remainder), as many as a multiple of the threads.
// With too few row blocks to keep the threads busy the panels are sliced too: for a single
// block (decode, short prompts) into up to 4 slices per thread, so every weight is streamed
// from memory once per call.
template <class Block>
void for_each_gemm_task(int64_t m, int64_t panels, int64_t max_rows, int64_t mr, int threads,
                        Block&& block) {
  int64_t row_blocks = (m + max_rows - 1) / max_rows;
  // A whole number of blocks per thread: 11 blocks on 2 threads would leave one thread a block
  // longer than the other at the end (~8% of the call idle); 12 smaller ones do not.
  if (threads > 1 && row_blocks > 1) row_blocks = (row_blocks + threads - 1) / threads * threads;
  const int64_t rows = ((m + row_blocks - 1) / row_blocks + mr - 1) / mr * mr;
  int64_t slices = 1;
  if (threads > 1 && row_blocks == 1)
    slices = panels < 4 * threads ? panels : 4 * threads;
  else if (threads > 1 && row_blocks < 4 * threads)
    slices = threads;
  const int64_t tasks = row_blocks * slices;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(dynamic, 1)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t row0 = (task / slices) * rows;
    const int64_t slice = task % slices;
    if (row0 < m)
      block(row0, m - row0 < rows ? m - row0 : rows, panels * slice / slices,
            panels * (slice + 1) / slices);
  }
}

}  // namespace pt::kernels::PT_ISA_NS
