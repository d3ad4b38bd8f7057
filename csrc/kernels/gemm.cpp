// GEMM for Linear layers: c[M, N] = act(a[M, K] @ w^T + bias) + residual, w given as [N, K].
// M = tokens, N = output features, K = input features.
// Blocking names: MR x NR register tile (NR = NV vectors), KC depth block, MC row block.
//
// BLIS structure. The weight is packed once (at load) into panels of NR columns, each panel
// [K][NR] contiguous. At run time, for each block of MC rows and KC depth, the rows of `a` are
// packed into micro-panels [KC][MR]; the micro-kernel then multiplies an MR x KC micro-panel of
// a (from L1) by a KC x NR micro-panel of w (from L2, where it stays while all the row
// micro-panels of the block go past it) into MR x NR accumulators held in registers. Bias,
// activation and residual are applied while the tile is still in registers, on the last KC
// block, so c is written once when K <= KC.
//
// Threads take (row block, panel slice) tasks (gemm_tasks.h). When M is small (decode: M = 1..8,
// one row block) the panels are sliced across the threads, so each weight is streamed from
// memory once per call whatever the thread count, and prefetched ahead of the FMAs that use it.
#include <cstdint>
#include <utility>

#include "cpu/threading.h"
#include "kernels/activation_math.h"
#include "kernels/gemm_tasks.h"
#include "kernels/kernels.h"

namespace pt::kernels::PT_ISA_NS {
namespace {

using V = Vec;
using reg = V::reg;
constexpr int W = V::width;

// Register tile: MR rows x NV vectors. MR * NV accumulators + NV weight vectors + 1 broadcast
// must fit the register file (32 zmm for AVX-512, 16 ymm for AVX2). What bounds the loop is the
// weight micro-panel, which is too large for L1 and streams from L2 for every row micro-panel:
// the fewer weight bytes per FMA, the better. AVX-512: 12 x 32 gives 24 FMAs per 2 vector
// loads (128 B, 5.3 B per FMA) + 12 broadcasts from L1, 27 zmm live; measured 5-10% faster
// than 8 x 48 (192 B, 8 B per FMA) on the MiniLM and GPT-2 shapes. 32 divides every BERT/GPT
// width, and a decode step of up to 12 tokens is a single row tile. AVX2: the classic 6 x 16
// (15 ymm live, 5.3 B per FMA too).
constexpr int MR = W == 16 ? 12 : W == 8 ? 6 : 4;
constexpr int NV = W == 16 ? 2 : W == 8 ? 2 : 4;
constexpr int NR = NV * W;
// Cache blocks. The A micro-panel (MR x KC = 36 KiB) stays in L1 while the weight micro-panel
// (KC x NR = 96 KiB) streams from L2 at 128 B per 24 FMAs, well inside L2's bandwidth; the
// packed MC x KC block of `a` (1.1 MiB) stays in L2 across all the panels of a task. A deep KC
// matters: every extra depth block re-reads and re-writes the whole C tile (measured: K = 768
// runs ~15% faster as one block of 768 than as two of 384). Decode (M <= MR) uses one block
// for all of K: its A micro-panel (<= 144 KiB for K = 3072) then streams from L2, 48 B a step.
constexpr int64_t KC = 768;
constexpr int64_t MC = MR * 32;
// Where the weights come from decides how the micro-kernel reads them:
//   cached:  many row micro-panels (M > MC) re-read each panel from L2; it is read in order
//            and prefetched into L1 36 depth steps (4.5 KiB) ahead.
//   memory:  a short prompt (MR < M <= MC): the first row micro-panel pulls each panel from
//            memory. The panel is read as 4 interleaved depth ranges (4 sequential streams),
//            each prefetched into L1 12 steps ahead.
//   decode:  one row micro-panel (M <= MR) reads each weight once, straight from memory: 4
//            streams, each prefetched into L2 36 steps ahead from 5 rows up. With 1 or 2 rows
//            the hardware prefetchers alone keep more in flight than with the prefetch
//            instructions (one per weight load there): paired, 2 threads, 0.6-1.2 GB of
//            weights, M = 1 1.03-1.16x and M = 2 1.14x without them, M = 3 1.02x, M = 4 1.00x,
//            M = 8 0.95x; GPT-2 greedy B=1 1.04x. Those light loops then read 8 streams, for
//            more pages for the hardware prefetchers to run ahead on (Emerald Rapids, paired, 2
//            threads: GPT-2's 494 MB of decode GEMVs at M = 1 1.07x, 26.2 GB/s against 27.5
//            for a plain streaming sum; greedy B=1 1.08x, B=2 1.07x; 8 streams with prefetch
//            instructions at B=4 0.95x and at M = 8 0.93x). Without prefetch instructions, 8
//            streams also win at 3 and 4 rows (the same GEMVs, paired, 40 rounds: M = 3 1.07x,
//            M = 4 1.06x; greedy B=3 1.06x, B=4 1.04x) but not from 5 (M = 5, 6 1.02x, M = 7
//            1.01x, M = 8 0.99x), which keep the prefetched 4.
// Why streams: a memory-bound loop with more FMAs per weight byte keeps fewer loads in flight
// (its body fills the reorder window sooner), so fewer weight bytes arrive per second: 2
// threads, 600 MB of distinct weights, one stream: 18 GB/s at M = 1 but 11 at M = 8 and 9 at
// M = 16. Four streams give the hardware prefetchers four pages to run ahead on. Measured in
// paired runs on Emerald Rapids: M = 16 +15-25%, M = 8 and 12 +2-23%, M = 1 within +-3%;
// M = 128 and 512 within +-6%; M = 4096 2-9% slower, hence one stream when panels are cached.
// The L2 form for decode streamed 8-13% more GB/s than the L1 form at M = 1.
// A decode step of 5-12 rows streams ~10-15% fewer GB/s than one of 1 row (2 threads, 768 x 2304
// and 3072 x 768 weights from memory: 21-25 against 24-28 GB/s). Tried against the 4 prefetched
// streams in a standalone copy of this loop, alternating in one process, M = 8, and none clearly
// faster: prefetch 18 or 72 steps ahead (0.95-1.05x), into L1 (1.02-1.06x; GPT-2 greedy B=8 1.00x),
// non-temporal (0.5x), one prefetch per 128-byte pair (0.88x), 8 or 16 streams without prefetch
// (0.92-0.96x), the 8 broadcasts taken from one vector load by permutes (0.98-1.01x), 2 passes of 4
// rows (the second from L2: 0.75-0.81x), a load or a prefetch of every 4 KiB page of the next panel
// first (0.93-0.99x). M = 4 without prefetch runs like M = 8 there, so most of the gap is the
// work per byte in the loop; the one prefetch change that gained is the streams' continuation
// into the next panel (in multiply, 1.02-1.04x).
enum class WeightPath { cached, memory, decode };

template <WeightPath P, int M>
struct WeightReads {
  // A decode step of up to 4 rows: no prefetch instructions, 8 streams (see above).
  static constexpr bool hardware_prefetch_only = P == WeightPath::decode && M <= 4;
  static constexpr int streams = P == WeightPath::cached ? 1 : hardware_prefetch_only ? 8 : 4;
  static constexpr int64_t prefetch_ahead = P == WeightPath::memory ? 12 : 36;  // per stream
};

struct Epilogue {
  const float* bias;      // at column 0 of this tile, or null
  const float* residual;  // at (row 0, column 0) of this tile, or null
  int64_t ld_residual;
  bool stream;            // write c past the caches (see streams_output)
};

// The micro-kernel, in two halves that meet in a tile of MR x NV registers (stored to the stack
// in between: up to 24 vector stores and loads per tile, against kc steps of ~45 instructions):
//   multiply<P, M, kInPlace>: acc [M rows][NR] = a_panel [kc][MR] @ w_panel [kc][NR], or with
//                      kInPlace the M rows of a read where they lie, lda floats apart;
//   write_tile<A, M>:  c[M x n_valid] (+)= acc, and on the last depth block the epilogue (bias,
//                      activation, residual) on the registers before c is written.
// Split so each is compiled once per (weight path, rows) and (activation, rows) rather than
// once per all three. M <= MR is a template parameter so a short last micro-panel keeps its
// accumulators in registers too.
using Tile = reg[MR][NV];

// A short prompt's later row micro-panels (the memory path, see gemm_block) find the panel
// cached, so they leave the memory idle: each instead prefetches into L2 a share of the next
// panel of its task, one depth step (NR floats) every `every` steps, `at` onwards. The first
// micro-panel of that panel then finds it in L2.
struct NextPanel {
  const float* at = nullptr;
  int64_t every = 1;
};

template <WeightPath P, int M, bool kInPlace = false, bool kPrefetchNext = false>
void multiply(int64_t kc, const float* a, int64_t lda, const float* w, Tile& tile,
              NextPanel next) {
  reg acc[M][NV];
#pragma GCC unroll 16
  for (int r = 0; r < M; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[r][j] = V::zero();

  using Reads = WeightReads<P, M>;
  const int64_t range = kc / Reads::streams;
  int64_t countdown = next.every;
  auto depth_step = [&](int64_t p, int64_t into) __attribute__((always_inline)) {
    if constexpr (kPrefetchNext) {
      if (--countdown == 0) {
#pragma GCC unroll 4
        for (int line = 0; line < (NR + 15) / 16; ++line) V::prefetch_l2(next.at + line * 16);
        next.at += NR;
        countdown = next.every;
      }
    }
    // Decode reads consecutive panels whole (one depth block: the next panel starts kc steps
    // on), so near the end of its range a stream prefetches the start of the same stream in the
    // next panel, which would otherwise start cold. Paired, 2 threads: GPT-2's decode GEMVs at
    // M = 6 1.04x, M = 8 1.02x; greedy B=6 1.04x [IQR 1.03-1.06], B=8 1.025x [1.00-1.05].
    const int64_t ahead_step = P == WeightPath::decode
                                   ? step_ahead_in_stream(p, into, range, kc, Reads::prefetch_ahead)
                                   : p + Reads::prefetch_ahead;
    const float* ahead = w + ahead_step * NR;
#pragma GCC unroll 4
    for (int line = 0; line < (Reads::hardware_prefetch_only ? 0 : (NR + 15) / 16); ++line) {
      if (P == WeightPath::decode)
        V::prefetch_l2(ahead + line * 16);
      else
        V::prefetch(ahead + line * 16);
    }
    reg wv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) wv[j] = V::load(w + p * NR + j * W);
#pragma GCC unroll 16
    for (int r = 0; r < M; ++r) {
      const reg av = V::set1(kInPlace ? a[r * lda + p] : a[p * MR + r]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[r][j] = V::fma(av, wv[j], acc[r][j]);
    }
  };
  for_each_depth_step<Reads::streams>(kc, depth_step);

#pragma GCC unroll 16
  for (int r = 0; r < M; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) tile[r][j] = acc[r][j];
}

template <Activation A, int M>
void write_tile(const Tile& tile, float* c, int64_t ldc, int n_valid, bool accumulate, bool last,
                const Epilogue& ep) {
#pragma GCC unroll 16
  for (int r = 0; r < M; ++r) {
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const int col = j * W;
      const int n = n_valid - col < W ? n_valid - col : W;
      if (n <= 0) break;
      float* dst = c + r * ldc + col;
      reg v = tile[r][j];
      if (accumulate) v = V::add(v, V::load_partial(dst, n));
      if (last) {
        if (ep.bias) v = V::add(v, V::load_partial(ep.bias + col, n));
        v = activate<A>(v);
        if (ep.residual) v = V::add(v, V::load_partial(ep.residual + r * ep.ld_residual + col, n));
      }
      store_output(dst, v, n, last && ep.stream);
    }
  }
}

using Multiply = void (*)(int64_t, const float*, int64_t, const float*, Tile&, NextPanel);
using WriteTile = void (*)(const Tile&, float*, int64_t, int, bool, bool, const Epilogue&);

template <WeightPath P, bool kInPlace = false, bool kPrefetchNext = false, int... Ms>
constexpr Multiply multiply_for_rows(int m, std::integer_sequence<int, Ms...>) {
  constexpr Multiply table[] = {&multiply<P, Ms + 1, kInPlace, kPrefetchNext>...};
  return table[m - 1];
}

template <Activation A, int... Ms>
constexpr WriteTile write_tile_for_rows(int m, std::integer_sequence<int, Ms...>) {
  constexpr WriteTile table[] = {&write_tile<A, Ms + 1>...};
  return table[m - 1];
}

// dst [ceil(mc / MR)][kc][MR] <- a [mc][kc] (row stride lda). Rows past mc are left unwritten:
// the micro-kernel for a short block never reads them. W columns of up to W rows at a time are
// loaded as row vectors and transposed in registers, so each store writes one depth step of the
// micro-panel; only the last kc % W steps go element by element. (The element-by-element loop
// it replaced was 2-6% of the encoder's time: one load and one store per float.) A group of at
// most W / 4 rows (the short last micro-panel of some prompts) still goes element by element: a
// W x W transpose costs 3-4 W shuffles whatever the rows, about what the element loop spends on
// W / 4 rows (measured while decode steps were still packed: GPT-2 greedy B=1 1.03x).
void pack_a(const float* a, int64_t lda, int64_t mc, int64_t kc, float* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    const int64_t rows = mc - i0 < MR ? mc - i0 : MR;
    float* panel = dst + i0 * kc;
    for (int64_t r0 = 0; r0 < rows; r0 += W) {  // MR > W only for the scalar build
      const int n = static_cast<int>(rows - r0 < W ? rows - r0 : W);
      const float* src = a + (i0 + r0) * lda;
      int64_t p = 0;
      if (4 * n > W) {
        for (; p + W <= kc; p += W) {
          reg block[W];
          for (int r = 0; r < W; ++r) block[r] = r < n ? V::load(src + r * lda + p) : V::zero();
          V::transpose(block);
          for (int c = 0; c < W; ++c) V::store_partial(panel + (p + c) * MR + r0, block[c], n);
        }
      }
      for (; p < kc; ++p)
        for (int r = 0; r < n; ++r) panel[p * MR + r0 + r] = src[r * lda + p];
    }
  }
}

// A decode step (at most MR rows, one row micro-panel) reads its rows where they lie, each a
// sequential run of broadcasts, rather than packed: the packing ran on one thread while the
// others waited (~8 us a call for 8 rows of 768-3072). Paired, 2 threads, GPT-2's 49 decode
// GEMVs: M = 1 1.05x (when only M = 1 did), M = 2 1.02x, 4 1.03x, 6 1.04x, 8 1.01-1.02x, 12
// 1.01x; greedy B=2 1.01x, B=4 1.04x, B=8 1.01x. Longer prompts keep packing: read in place,
// MiniLM B=32 ran 0.98x (1 thread) and 0.94x (2), the broadcasts' addressing costing the
// compute-bound loop more than the packing.
bool rows_in_place(int64_t m) { return m <= MR; }

struct Problem {
  const float* a;
  int64_t lda;
  const float* packed_w;
  const float* bias;
  const float* residual;
  int64_t ld_residual;
  float* c;
  int64_t ldc, m, n, k;
  int64_t kc_max;  // depth block
  bool stream;     // see streams_output
};

// c[row0 : row0 + mc, panels [panel_begin, panel_end)] over the whole depth. `a_shared` is
// null (pack the rows here, one depth block at a time, into this thread's scratch) or holds all
// M rows already packed for every depth block: block k0 at offset round_up(M, MR) * k0, and in
// it the micro-panel of row r (a multiple of MR) at r * kc. A decode step (M <= MR) is neither:
// its rows are read where they lie (see rows_in_place).
template <Activation A>
void gemm_block(const Problem& g, int64_t row0, int64_t mc, int64_t panel_begin,
                int64_t panel_end, const float* a_shared) {
  const int64_t mc_padded = (mc + MR - 1) / MR * MR;
  const int64_t m_padded = (g.m + MR - 1) / MR * MR;
  const bool in_place = rows_in_place(g.m);
  float* a_own = a_shared || in_place ? nullptr : thread_scratch(1, mc_padded * g.kc_max);
  // A short prompt (the memory path) of at least 3 row micro-panels: the later ones prefetch the
  // next panel (see NextPanel), each its share of the depth. Paired in one process, 2 threads,
  // MiniLM's four GEMMs with the weights from memory: M = 36 1.04x, 48 1.035x, 64 1.04x, 96
  // 1.03x, 128 1.02x; MiniLM B=1 T=128 1.07x at 1 thread [IQR 1.06-1.08], 1.03x at 2
  // [1.02-1.04]. With 1 later micro-panel the prefetches come too thick (M = 16 0.96x, M = 24
  // 0.99x), so those keep the plain loop. The same in the cached path (M > MC), whose panels
  // come from L2 for all but the first row block: MiniLM B=32 0.99-1.01x, left out.
  const int64_t micro_panels = (mc + MR - 1) / MR;
  const bool prefetch_next = g.m > MR && g.m <= MC && micro_panels >= 3;
  for (int64_t k0 = 0; k0 < g.k; k0 += g.kc_max) {
    const int64_t kc = g.k - k0 < g.kc_max ? g.k - k0 : g.kc_max;
    const bool last = k0 + kc == g.k;
    const float* a_packed = in_place   ? g.a + row0 * g.lda + k0
                            : a_shared ? a_shared + m_padded * k0 + row0 * kc
                                       : a_own;
    if (!a_shared && !in_place) pack_a(g.a + row0 * g.lda + k0, g.lda, mc, kc, a_own);
    for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
      const int64_t col0 = panel * NR;
      const int n_valid = static_cast<int>(g.n - col0 < NR ? g.n - col0 : NR);
      const float* w = g.packed_w + panel * g.k * NR + k0 * NR;
      for (int64_t i0 = 0; i0 < mc; i0 += MR) {
        const int rows = static_cast<int>(mc - i0 < MR ? mc - i0 : MR);
        const int64_t row = row0 + i0;
        const Epilogue ep{g.bias ? g.bias + col0 : nullptr,
                          g.residual ? g.residual + row * g.ld_residual + col0 : nullptr,
                          g.ld_residual, g.stream};
        constexpr auto all_rows = std::make_integer_sequence<int, MR>{};
        auto multiply = in_place    ? multiply_for_rows<WeightPath::decode, true>(rows, all_rows)
                        : g.m <= MC ? multiply_for_rows<WeightPath::memory>(rows, all_rows)
                                    : multiply_for_rows<WeightPath::cached>(rows, all_rows);
        NextPanel next;
        if (prefetch_next && i0 > 0 && panel + 1 < panel_end) {
          // Micro-panel i of n prefetches depth steps [kc (i - 1) / (n - 1), kc i / (n - 1))
          // of the next panel, spread evenly over its own kc steps.
          const int64_t i = i0 / MR, later = micro_panels - 1;
          const int64_t from = kc * (i - 1) / later, steps = kc * i / later - from;
          next.at = g.packed_w + (panel + 1) * g.k * NR + (k0 + from) * NR;
          next.every = steps > 0 ? (kc + steps - 1) / steps : kc + 1;  // at most `steps` of them
          multiply = multiply_for_rows<WeightPath::memory, false, true>(rows, all_rows);
        }
        Tile tile;
        multiply(kc, a_packed + (in_place ? i0 * g.lda : i0 * kc), g.lda, w, tile, next);
        write_tile_for_rows<A>(rows, all_rows)(tile, g.c + row * g.ldc + col0, g.ldc, n_valid,
                                               k0 > 0, last, ep);
      }
    }
  }
  if (g.stream) V::stream_fence();
}

template <Activation A>
void gemm_impl(const Problem& g) {
  const int64_t panels = (g.n + NR - 1) / NR;
  const bool parallel = 2.0 * g.m * g.n * g.k >= 2e5 && num_threads() > 1;
  const int threads = parallel ? num_threads() : 1;
  const GemmTasks plan = plan_gemm_tasks(g.m, panels, MC, MR, threads);
  // Rows that several tasks read (their panels sliced among the threads: decode, prompts, one
  // row block per thread) are packed once, for the whole depth, and shared. The threads pack
  // them together, one (depth block, row micro-panel) each at a time, when there are enough of
  // those (a prompt of 128 tokens: done alone, it was ~5% of the call).
  const float* a_shared = nullptr;
  if (plan.share_rows && !rows_in_place(g.m)) {
    const int64_t m_padded = (g.m + MR - 1) / MR * MR;
    const int64_t micro_panels = m_padded / MR;
    const int64_t depth_blocks = (g.k + g.kc_max - 1) / g.kc_max;
    float* a_packed = thread_scratch(1, m_padded * g.k);
    const int64_t pieces = micro_panels * depth_blocks;
    parallel_for(pieces, threads > 1 && pieces >= 2 * threads, [&](int64_t piece) {
      const int64_t k0 = piece / micro_panels * g.kc_max, i0 = piece % micro_panels * MR;
      const int64_t kc = g.k - k0 < g.kc_max ? g.k - k0 : g.kc_max;
      pack_a(g.a + i0 * g.lda + k0, g.lda, g.m - i0 < MR ? g.m - i0 : MR, kc,
             a_packed + m_padded * k0 + i0 * kc);
    });
    a_shared = a_packed;
  }
  for_each_gemm_task(plan, g.m, panels, threads,
                     [&](int64_t row0, int64_t rows, int64_t panel_begin, int64_t panel_end) {
                       gemm_block<A>(g, row0, rows, panel_begin, panel_end, a_shared);
                     });
}

}  // namespace

int64_t gemm_packed_size(int64_t n, int64_t k) { return (n + NR - 1) / NR * NR * k; }

void gemm_pack(const float* w, int64_t n, int64_t k, int64_t stride_n, int64_t stride_k,
               float* packed) {
  const int64_t panels = (n + NR - 1) / NR;
  parallel_for(panels, n * k >= (1 << 16), [&](int64_t panel) {
    float* dst = packed + panel * k * NR;
    for (int64_t p = 0; p < k; ++p) {
      for (int j = 0; j < NR; ++j) {
        const int64_t col = panel * NR + j;
        dst[p * NR + j] = col < n ? w[col * stride_n + p * stride_k] : 0.0f;
      }
    }
  });
}

void gemm(const float* a, int64_t lda, const float* packed_w, const float* bias,
          const float* residual, int64_t ld_residual, float* c, int64_t ldc, int64_t m, int64_t n,
          int64_t k, Activation act) {
  if (m == 0 || n == 0) return;
  // Equal depth blocks (K = 1024 is two blocks of 512, not 768 + 256). Decode (M <= MR) takes
  // the whole depth at once: then each thread's share of the weight is one sequential stream
  // (panel after panel, each [K][NR] contiguous), which the prefetchers follow best.
  const int64_t k_blocks = k > 0 && m > MR ? (k + KC - 1) / KC : 1;
  const bool stream = streams_output(m, n);
  const Problem problem{a, lda, packed_w, bias, residual, ld_residual, c, ldc, m, n, k,
                        (k + k_blocks - 1) / k_blocks, stream};
  with_activation(act, [&](auto a_tag) { gemm_impl<decltype(a_tag)::value>(problem); });
}

}  // namespace pt::kernels::PT_ISA_NS
