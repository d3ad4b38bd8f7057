// What the float32 and int8 GEMMs share: how C [m rows, panels of NR columns] is split among
// threads, and the order a micro-kernel walks its depth in. Included by kernel sources only
// (it lives in the ISA's namespace like them).
#pragma once
#include <atomic>
#include <cstdint>

#include "cpu/vec.h"

namespace pt::kernels::PT_ISA_NS {

// How C is split among threads: row blocks of `rows` rows (a multiple of mr, so no block is a
// short remainder), each cut into `slices` ranges of panels; a task is one (block, slice).
// Tasks are handed out dynamically (the cores are often shared: a thread that lost its core
// for a while must not leave the others waiting on a fixed share).
struct GemmTasks {
  int64_t row_blocks, rows, slices;
  // The caller packs every row once, before the tasks run, for all the slices that read it
  // (else each task packs its own block's rows).
  bool share_rows;
  // A single row block whose panels are handed out in shrinking ranges instead of `slices`
  // equal ones (see plan_gemm_tasks).
  bool guided;
  int64_t count() const { return row_blocks * slices; }
};

// Rows go in equal blocks of at most max_rows, as many as a multiple of the threads.
// - A single block (decode, short prompts) has its panels sliced among the threads, so that
//   every weight is streamed from memory once per call, and guided: each task takes the next
//   1 / (2 threads) of the panels left (at least one), long sequential streams first and short
//   tasks last, which even out when the threads finish. Paired, 2 threads, against equal
//   slices (4 per thread for decode, 8 for prompts): GPT-2 greedy B=1 1.04x, B=8 1.025-1.03x,
//   MiniLM B=1 T=16 1.03x, T=128 1.02x (a third instead of a half per thread: decode 1.04x,
//   T=16 1.02x). With equal slices, the last task of a decode step was an eighth of the call.
// - One block per thread (m = 512 on 2 threads) is sliced into up to 16 tasks per thread of at
//   least 4 panels. With a block and a slice per thread, a thread that runs slower than the
//   other for a while (seen on this 2-vCPU VM for whole seconds, 18-22% slower) left the other
//   waiting for 18-22% of the call (7% in calmer periods): paired, 2 threads, GPT-2 prefill of
//   512 tokens 1.03-1.06x, base Transformer B=8 0.99-1.03x, MiniLM B=4 T=128 1.02x. The same
//   for 12 blocks (MiniLM B=32) was 0.97x: there each thread keeps its own block's rows packed
//   in L2 across its panels, which sharing them gives up.
// - A few blocks per thread are sliced in as many slices as threads.
inline GemmTasks plan_gemm_tasks(int64_t m, int64_t panels, int64_t max_rows, int64_t mr,
                                 int threads) {
  int64_t row_blocks = (m + max_rows - 1) / max_rows;
  // A whole number of blocks per thread: 11 blocks on 2 threads would leave one thread a block
  // longer than the other at the end (~8% of the call idle); 12 smaller ones do not.
  if (threads > 1 && row_blocks > 1) row_blocks = (row_blocks + threads - 1) / threads * threads;
  const int64_t rows = ((m + row_blocks - 1) / row_blocks + mr - 1) / mr * mr;
  if (threads > 1 && row_blocks == 1) return {1, rows, 1, panels > 1, true};
  int64_t slices = 1;
  bool shared = false;
  if (threads > 1 && row_blocks == threads) {
    const int64_t wide = panels / 4 > threads ? panels / 4 : threads;  // >= 4 panels a slice
    slices = 16 * threads / row_blocks < wide ? 16 * threads / row_blocks : wide;
    shared = true;
  } else if (threads > 1 && row_blocks < 4 * threads) {
    slices = threads;
  }
  if (slices > panels) slices = panels;
  return {row_blocks, rows, slices, shared && slices > 1, false};
}

// Runs block(row0, rows, panel_begin, panel_end) over the tasks of `plan`.
template <class Block>
void for_each_gemm_task(const GemmTasks& plan, int64_t m, int64_t panels, int threads,
                        Block&& block) {
  if (plan.guided) {
    std::atomic<int64_t> next{0};  // the first panel not yet taken
#pragma omp parallel num_threads(threads)
    for (;;) {
      int64_t begin = next.load(), take;
      do {
        take = (panels - begin) / (2 * threads);
        take = take > 1 ? take : 1;
      } while (begin < panels && !next.compare_exchange_weak(begin, begin + take));
      if (begin >= panels) break;
      block(0, m, begin, begin + take < panels ? begin + take : panels);
    }
    return;
  }
  const int64_t slices = plan.slices;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(dynamic, 1)
  for (int64_t task = 0; task < plan.count(); ++task) {
    const int64_t row0 = (task / slices) * plan.rows;
    const int64_t slice = task % slices;
    if (row0 < m)
      block(row0, m - row0 < plan.rows ? m - row0 : plan.rows, panels * slice / slices,
            panels * (slice + 1) / slices);
  }
}

// Whether a float32 output c [m, n] is streamed to memory: one this large cannot stay in this
// core's caches until it is read, so its finished tiles are written past the caches, which
// saves reading every line of c in before overwriting it. Smaller outputs stay cached for the
// op that reads them next. Measured, float32: MiniLM B=32 T=128, whose GEMM outputs are 6-25
// MiB, faster in most interleaved A/B pairs, by up to ~10% (the loop alone runs at 88-92% of the
// FMA peak when c is never written, ~75% when it goes to fresh memory). int8 (AMX), paired, in
// one process: MiniLM B=32 T=128 1.13x at 1 thread and 1.16x at 2.
inline bool streams_output(int64_t m, int64_t n) {
  constexpr int64_t kStreamOutputBytes = 4 << 20;
  return m * n * static_cast<int64_t>(sizeof(float)) >= kStreamOutputBytes;
}

// Stores n <= W floats of v at dst, past the caches (see streams_output) when `stream` and the
// store is a whole, aligned vector. Both GEMMs write their outputs through it.
inline void store_output(float* dst, Vec::reg v, int n, bool stream) {
  if (stream && n == Vec::width && reinterpret_cast<uintptr_t>(dst) % sizeof(Vec::reg) == 0)
    Vec::stream(dst, v);
  else
    Vec::store_partial(dst, v, n);
}

// The depth step `ahead` steps after p in p's own stream of for_each_depth_step (p lies `into`
// steps into a range of `range`): past the range's end, the same stream of the next panel,
// which starts `depth` steps on, rather than the next stream's first steps, which that stream
// reads anyway. With one stream it is simply p + ahead.
inline int64_t step_ahead_in_stream(int64_t p, int64_t into, int64_t range, int64_t depth,
                                    int64_t ahead) {
  return p + ahead + (into + ahead >= range ? depth - range : 0);
}

// Runs step(p, into) for every p in [0, depth): as Streams interleaved ranges of depth / Streams
// steps (step(p), step(p + range), ... in turn), then the remainder in order; `into` is how far
// p lies into its range (the remainder counts as past the end: range and on). A micro-kernel
// that sums every step into the same accumulators gets the same sum in another order, while
// reading its weight panel as Streams sequential streams: with more streams in flight the
// prefetchers keep more of a memory-bound panel coming (see WeightPath in gemm.cpp).
template <int Streams, class Step>
__attribute__((always_inline)) inline void for_each_depth_step(int64_t depth, Step&& step) {
  const int64_t range = depth / Streams;
  for (int64_t p = 0; p < range; ++p)
#pragma GCC unroll 4
    for (int s = 0; s < Streams; ++s) step(p + s * range, p);
  for (int64_t p = Streams * range; p < depth; ++p) step(p, p - (Streams - 1) * range);
}

}  // namespace pt::kernels::PT_ISA_NS
