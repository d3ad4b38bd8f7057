// What the float32 and int8 GEMMs share: how C [m rows, panels of NR columns] is split among
// threads, and the order a micro-kernel walks its depth in. Included by kernel sources only
// (it lives in the ISA's namespace like them).
#pragma once
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <memory>

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
  // A single row block whose panels each thread takes from its own range, in shrinking pieces,
  // instead of `slices` equal ones (see plan_gemm_tasks and OwnedPanels).
  bool guided;
  int64_t count() const { return row_blocks * slices; }
};

// Rows go in equal blocks of at most max_rows, as many as a multiple of the threads.
// - A single block (decode, short prompts) has its panels sliced among the threads, so that
//   every weight is streamed from memory once per call, in shrinking pieces: long sequential
//   streams first and short tasks last, which even out when the threads finish. Paired, 2
//   threads, against equal slices (4 per thread for decode, 8 for prompts): GPT-2 greedy B=1
//   1.04x, B=8 1.025-1.03x, MiniLM B=1 T=16 1.03x, T=128 1.02x (a third instead of a half per
//   thread: decode 1.04x, T=16 1.02x). With equal slices, the last task of a decode step was an
//   eighth of the call. Each thread now takes its pieces from its own range (OwnedPanels).
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

// The panels of a guided plan: each thread owns an equal, contiguous range and takes half of
// what is left of it at a time, from the front, so its tasks follow one another in memory and
// the prefetches at the end of one (which run on into the next panel) warm the next. A thread
// done with its own range takes halves from the back of the others'. Against handing out
// 1 / (2 threads) of all the panels left in turn (a thread's next task then lay past the
// other's, and started cold), paired, 2 threads: GPT-2's decode GEMVs M = 1 1.01x, M = 8
// 1.02-1.035x, prompts M = 16 1.00x, M = 64 1.02x; greedy B=1 1.01-1.02x, B=8 1.01-1.02x.
struct alignas(64) OwnedPanels {  // a cache line each: the owner and the thieves update them
  std::atomic<uint64_t> bounds;   // front | back << 32: panels [front, back) not yet taken

  static uint64_t pack(int64_t front, int64_t back) {
    return static_cast<uint64_t>(front) | static_cast<uint64_t>(back) << 32;
  }
  void set(int64_t front, int64_t back) { bounds.store(pack(front, back)); }
  // Takes half of what is left (at least one panel), from the front or the back, as [begin,
  // end); false when nothing is left.
  bool take(bool from_front, int64_t& begin, int64_t& end) {
    uint64_t now = bounds.load();
    for (;;) {
      const int64_t front = static_cast<int64_t>(now & 0xffffffffu);
      const int64_t back = static_cast<int64_t>(now >> 32);
      if (front >= back) return false;
      const int64_t half = (back - front) / 2 > 1 ? (back - front) / 2 : 1;
      begin = from_front ? front : back - half;
      end = begin + half;
      const uint64_t rest = from_front ? pack(end, back) : pack(front, begin);
      if (bounds.compare_exchange_weak(now, rest)) return true;
    }
  }
};

// The calling thread's OwnedPanels for up to `threads` threads, reused from call to call.
inline OwnedPanels* owned_panels(int threads) {
  thread_local std::unique_ptr<OwnedPanels[]> ranges;
  thread_local int capacity = 0;
  if (threads > capacity) {
    ranges = std::make_unique<OwnedPanels[]>(static_cast<size_t>(threads));
    capacity = threads;
  }
  return ranges.get();
}

// Runs block(row0, rows, panel_begin, panel_end) over the tasks of `plan`.
template <class Block>
void for_each_gemm_task(const GemmTasks& plan, int64_t m, int64_t panels, int threads,
                        Block&& block) {
  if (plan.guided) {
    OwnedPanels* owned = owned_panels(threads);
    for (int t = 0; t < threads; ++t)
      owned[t].set(panels * t / threads, panels * (t + 1) / threads);
#pragma omp parallel num_threads(threads)
    {
      // A smaller team than asked for still covers every range: the others are taken from.
      const int me = omp_get_thread_num();
      int64_t begin, end;
      for (int i = 0; i < threads; ++i) {
        OwnedPanels& range = owned[(me + i) % threads];
        while (range.take(i == 0, begin, end)) block(0, m, begin, end);
      }
    }
    return;
  }
  const int64_t slices = plan.slices;
  auto run = [&](int64_t task) {
    const int64_t row0 = (task / slices) * plan.rows;
    const int64_t slice = task % slices;
    if (row0 < m)
      block(row0, m - row0 < plan.rows ? m - row0 : plan.rows, panels * slice / slices,
            panels * (slice + 1) / slices);
  };
  if (threads == 1) {  // no OpenMP region (see parallel_for in cpu/threading.h)
    for (int64_t task = 0; task < plan.count(); ++task) run(task);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t task = 0; task < plan.count(); ++task) run(task);
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
