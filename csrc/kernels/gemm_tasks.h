// What the float32 and int8 GEMMs share: how C [m rows, panels of NR columns] is split among
// threads, and the order a micro-kernel walks its depth in. Included by kernel sources only
// (it lives in the ISA's namespace like them).
#pragma once
#include <cstdint>

#include "cpu/vec.h"

namespace pt::kernels::PT_ISA_NS {

// Runs block(row0, rows, panel_begin, panel_end) over tasks covering C, handed out
// dynamically (the cores are often shared: a thread that lost its core for a while must not
// leave the others waiting on a fixed share). Rows go in equal blocks of at most max_rows (a
// multiple of mr, so no block is a short remainder), as many as a multiple of the threads.
// With too few row blocks to keep the threads busy the panels are sliced too. A single block
// (decode, short prompts) is sliced so that every weight is streamed from memory once per call:
// decode (m <= mr) into up to 4 slices per thread, each a long sequential stream; a prompt into
// up to 8, whose finer grain evens out when the threads finish (paired runs, 2 threads:
// MiniLM B=1 T=128 and B=4 T=64 +5%, T=16 unchanged; decode 3% slower with 8).
template <class Block>
void for_each_gemm_task(int64_t m, int64_t panels, int64_t max_rows, int64_t mr, int threads,
                        Block&& block) {
  int64_t row_blocks = (m + max_rows - 1) / max_rows;
  // A whole number of blocks per thread: 11 blocks on 2 threads would leave one thread a block
  // longer than the other at the end (~8% of the call idle); 12 smaller ones do not.
  if (threads > 1 && row_blocks > 1) row_blocks = (row_blocks + threads - 1) / threads * threads;
  const int64_t rows = ((m + row_blocks - 1) / row_blocks + mr - 1) / mr * mr;
  int64_t slices = 1;
  if (threads > 1 && row_blocks == 1) {
    const int64_t per_thread = m <= mr ? 4 : 8;
    slices = panels < per_thread * threads ? panels : per_thread * threads;
  } else if (threads > 1 && row_blocks < 4 * threads)
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

// Runs step(p) for every p in [0, depth): as Streams interleaved ranges of depth / Streams
// steps (step(p), step(p + range), ... in turn), then the remainder in order. A micro-kernel
// that sums every step into the same accumulators gets the same sum in another order, while
// reading its weight panel as Streams sequential streams: with more streams in flight the
// prefetchers keep more of a memory-bound panel coming (see WeightPath in gemm.cpp).
template <int Streams, class Step>
__attribute__((always_inline)) inline void for_each_depth_step(int64_t depth, Step&& step) {
  const int64_t range = depth / Streams;
  for (int64_t p = 0; p < range; ++p)
#pragma GCC unroll 4
    for (int s = 0; s < Streams; ++s) step(p + s * range);
  for (int64_t p = Streams * range; p < depth; ++p) step(p);
}

}  // namespace pt::kernels::PT_ISA_NS
