// int8 GEMM for Linear layers (compute_type="int8"):
//   c[M, N] = act((q(a) @ wq^T) * a_scale[M] * w_scale[N] + bias) + residual
// M = tokens, N = output features, K = input features, KQ = ceil(K / 4) depth quads.
//
// Scheme. The weight is quantized once (symmetric, per output channel, int8 in [-127, 127]) and
// packed into panels of NR columns, each panel [KQ][NR][4] bytes: one 32-bit lane per column
// holds 4 consecutive depths, the operand of a 4-way int8 dot product (vpdpbusd, or vpmaddwd on
// int16 halves). Activations are quantized per row at run time (scale = max|row| / 127,
// q = round(x * 127 / max|row|)) and packed into micro-panels [KQ][MR] of quads, each in the
// variant's format (VecS8::pack_a). Accumulation is exact int32 (|acc| <= 255 * 127 * K, safe
// for K < 66000), so every variant produces bit-identical accumulators; dequantization, bias,
// activation and residual run in the epilogue on the registers, and c is written once.
//
// The VNNI variant multiplies u8 = q + 128 by s8 weights; sum_k (q + 128) w = sum_k q w +
// 128 sum_k w, so the packed weight carries comp[n] = 128 * sum_k wq[n, k] after its panels,
// subtracted from the accumulators before anything else.
//
// The AMX variant (Sapphire Rapids and later) is the VNNI one whose row blocks go through the
// tile unit instead, when K is a multiple of 64 and there are at least 16 rows (see "AMX" below);
// decode steps keep the VNNI micro-kernel. Both read the same packed weights.
//
// Threads: (row block, panel slice) tasks as in the fp32 GEMM. A task that owns whole row blocks
// quantizes and packs its rows itself, just before using them (packed `a` for all M rows would
// be evicted from L2 before its turn); for one row block (decode, short prompts) the rows are
// quantized once, in parallel, and the panels are sliced among the threads so each weight byte
// is streamed from memory once per call.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#if defined(PT_ISA_AMX)
#include <immintrin.h>
#endif

#include "cpu/threading.h"
#include "kernels/activation_math.h"
#include "kernels/gemm_tasks.h"
#include "kernels/kernels.h"

#define PT_S8_STRINGIFY_(x) #x
#define PT_S8_STRINGIFY(x) PT_S8_STRINGIFY_(x)
#define PT_S8_CONCAT_(a, b) a##b
#define PT_S8_CONCAT(a, b) PT_S8_CONCAT_(a, b)

namespace pt::kernels::PT_ISA_NS {
namespace {

using V = Vec;
using S = VecS8;
using reg = V::reg;
using ireg = S::ireg;
constexpr int W = S::width;
constexpr int MR = S::mr;
constexpr int NV = S::nv;
constexpr int NR = NV * W;
constexpr int AQ = S::a_quad_bytes;  // bytes of one packed activation quad
constexpr int64_t MC = MR * 16;      // rows per task: MC x K x AQ bytes of `a` stay in L2
constexpr int64_t PREFETCH_AHEAD = 16;  // depth quads

int64_t quads(int64_t k) { return (k + 3) / 4; }

struct Epilogue {
  const float* a_scale;   // at row 0 of this tile
  const float* w_scale;   // at column 0 of this tile
  const int32_t* comp;    // at column 0 (used when S::shifted)
  const float* bias;      // or null
  const float* residual;  // at (row 0, column 0), or null
  int64_t ld_residual;
  int32_t* acc_out;       // at (row 0, column 0): write accumulators instead of c (test hook)
  bool stream;            // write c past the caches (streams_output)
};

// The micro-kernel, in two halves that meet in a tile of MR x NV int32 registers (stored to the
// stack in between), so each is compiled once per (streams, rows) and (activation, rows):
//   multiply<Streams, M>:  acc [M rows][NR] = a_panel [kq][MR] quads @ w_panel [kq][NR][4];
//   write_tile<A, M>:      c[M x n_valid] = epilogue(acc).
// With Streams = 4 the depth is read as 4 interleaved ranges (exact: int32 sums in any order
// are equal), for GEMMs that pull their weights from memory (one row block), as the float32
// GEMM does (csrc/kernels/gemm.cpp, WeightPath): more streams keep more loads in flight. Paired
// runs, 2 threads, 300 MB of distinct int8 weights: M = 1 +4-6%, M = 8 +4-19%, M = 16 -5% to
// +19%.
using Tile = ireg[MR][NV];

template <int Streams, int M>
void multiply(int64_t kq, const uint8_t* a, const int8_t* w, Tile& tile) {
  ireg acc[M][NV];
#pragma GCC unroll 16
  for (int r = 0; r < M; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[r][j] = S::zero();

  // As in the float32 decode path, 1 or 2 rows read faster on the hardware prefetchers alone
  // (paired, 2 threads, 280 MB of int8 weights: M = 1 1.03-1.07x, M = 2 1.03x without). Here
  // the rule is by micro-panel rows, so it also covers a prompt block's last 1 or 2 rows, whose
  // pass reads a panel the block's first micro-panel has already brought into L2.
  constexpr bool prefetch = M > 2;
  // The panels a call reads lie back to back (kq quads each), so with 4 streams, near the end of
  // its range each stream prefetches the start of the same stream in the next panel instead of
  // the next stream's first quads (see the float32 decode path). Paired, 2 threads, GPT-2 int8
  // greedy: B=4 1.03x [IQR 1.02-1.05], B=8 1.02-1.04x, B=1 (no prefetching) 1.00x.
  const int64_t range = kq / Streams;
  auto depth_step = [&](int64_t p, int64_t into) __attribute__((always_inline)) {
    const int64_t ahead = step_ahead_in_stream(p, into, range, kq, PREFETCH_AHEAD);
#pragma GCC unroll 4
    for (int line = 0; line < (prefetch ? (NR * 4 + 63) / 64 : 0); ++line)
      V::prefetch(reinterpret_cast<const float*>(w + ahead * NR * 4 + line * 64));
    typename S::wreg wv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) wv[j] = S::load_w(w + (p * NR + j * W) * 4);
#pragma GCC unroll 16
    for (int r = 0; r < M; ++r) {
      const typename S::areg av = S::broadcast_a(a + (p * MR + r) * AQ);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[r][j] = S::dot(acc[r][j], av, wv[j]);
    }
  };
  for_each_depth_step<Streams>(kq, depth_step);

#pragma GCC unroll 16
  for (int r = 0; r < M; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) tile[r][j] = acc[r][j];
}

template <Activation A, int M>
void write_tile(const Tile& tile, float* c, int64_t ldc, int n_valid, const Epilogue& ep) {
#pragma GCC unroll 16
  for (int r = 0; r < M; ++r) {
    const reg a_scale = V::set1(ep.a_scale[r]);
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const int col = j * W;
      const int n = n_valid - col < W ? n_valid - col : W;
      if (n <= 0) break;
      ireg exact = tile[r][j];
      if constexpr (S::shifted) exact = S::sub(exact, S::load_partial(ep.comp + col, n));
      if (ep.acc_out) {
        S::store_partial(ep.acc_out + r * ldc + col, exact, n);
        continue;
      }
      reg v = V::mul(S::to_float(exact), V::mul(a_scale, V::load_partial(ep.w_scale + col, n)));
      if (ep.bias) v = V::add(v, V::load_partial(ep.bias + col, n));
      v = activate<A>(v);
      if (ep.residual) v = V::add(v, V::load_partial(ep.residual + r * ep.ld_residual + col, n));
      store_output(c + r * ldc + col, v, n, ep.stream);
    }
  }
}

using Multiply = void (*)(int64_t, const uint8_t*, const int8_t*, Tile&);
using WriteTile = void (*)(const Tile&, float*, int64_t, int, const Epilogue&);

template <int Streams, int... Ms>
constexpr Multiply multiply_for_rows(int m, std::integer_sequence<int, Ms...>) {
  constexpr Multiply table[] = {&multiply<Streams, Ms + 1>...};
  return table[m - 1];
}

template <Activation A, int... Ms>
constexpr WriteTile write_tile_for_rows(int m, std::integer_sequence<int, Ms...>) {
  constexpr WriteTile table[] = {&write_tile<A, Ms + 1>...};
  return table[m - 1];
}

// q[0 : k] = round(x * 127 / max|x|), q[k : 4 * kq] = 0; returns the scale max|x| / 127.
// x * (127 / max|x|) can land a rounding step past +-127, hence the clamp. NaN, which no ISA
// orders the same way, is kept out of the maximum (V::max returns its second operand when
// either is NaN) and clamps to -127 rather than going through an undefined conversion; a row
// holding a NaN gets a NaN scale instead (as max|x| over it is NaN), so its outputs are NaN, as
// a float32 Linear's would be, not finite numbers. (x * 0 is NaN for a NaN or an infinity; an
// infinity already makes max|x| and so the scale infinite.)
float quantize_row(const float* x, int64_t k, int8_t* q) {
  reg vmax = V::zero(), zero_if_finite = V::zero();
  const auto scan = [&](reg v) {
    vmax = V::max(V::abs(v), vmax);
    zero_if_finite = V::add(zero_if_finite, V::mul(v, V::zero()));
  };
  int64_t p = 0;
  for (; p + W <= k; p += W) scan(V::load(x + p));
  if (p < k) scan(V::load_partial(x + p, static_cast<int>(k - p)));
  const float amax = V::reduce_max(vmax);
  const reg inv = V::set1(amax > 0.0f ? 127.0f / amax : 0.0f);
  const reg lo = V::set1(-127.0f), hi = V::set1(127.0f);
  for (p = 0; p < k; p += W) {
    const int n = k - p < W ? static_cast<int>(k - p) : W;
    const reg r = V::round(V::mul(V::load_partial(x + p, n), inv));
    V::store_int8(q + p, V::min(V::max(r, lo), hi), n);
  }
  for (p = k; p < quads(k) * 4; ++p) q[p] = 0;
  const bool nan_seen = V::reduce_add(zero_if_finite) != 0.0f && amax <= FLT_MAX;
  return nan_seen ? __builtin_nanf("") : amax / 127.0f;
}

// Quantizes rows [0, m) of a and packs them as micro-panels [ceil(m / MR)][kq][MR][AQ].
void quantize_pack_a(const float* a, int64_t lda, int64_t m, int64_t k, uint8_t* packed,
                     float* a_scale, bool parallel) {
  const int64_t kq = quads(k);
  parallel_for(m, parallel, [&](int64_t row) {
    int8_t* q = reinterpret_cast<int8_t*>(thread_scratch(2, (kq * 4 + 3) / 4));
    a_scale[row] = quantize_row(a + row * lda, k, q);
    uint8_t* panel = packed + (row / MR) * MR * kq * AQ;
    const int r = static_cast<int>(row % MR);
    for (int64_t p = 0; p < kq; ++p) S::pack_a(q + p * 4, panel + (p * MR + r) * AQ);
  });
}

struct Problem {
  const float* a;
  int64_t lda;
  float* a_scale;  // [m], filled by whoever quantizes the rows
  const int8_t* packed_w;
  const int32_t* comp;
  const float* w_scale;
  const float* bias;
  const float* residual;
  int64_t ld_residual;
  float* c;
  int32_t* acc_out;
  int64_t ldc, m, n, k;
  bool stream;  // streams_output(m, n)
};

// The epilogue of the tile whose top-left element is c[row, col0].
Epilogue epilogue_at(const Problem& g, int64_t row, int64_t col0) {
  return {g.a_scale + row,
          g.w_scale + col0,
          g.comp + col0,
          g.bias ? g.bias + col0 : nullptr,
          g.residual ? g.residual + row * g.ld_residual + col0 : nullptr,
          g.ld_residual,
          g.acc_out ? g.acc_out + row * g.ldc + col0 : nullptr,
          g.stream};
}

// c[row0 : row0 + mc, panels [panel_begin, panel_end)]. `a_shared` is null (quantize and pack
// the rows here, into this thread's scratch, while they are in cache for the panels below) or
// holds these rows already packed. Micro-panels of rows outermost: c is written MR whole rows at
// a time (few pages, sequential lines) while the weight panels, a few hundred KB, stream from L2.
template <Activation A>
void gemm_block(const Problem& g, int64_t row0, int64_t mc, int64_t panel_begin,
                int64_t panel_end, const uint8_t* a_shared) {
  const int64_t kq = quads(g.k);
  const uint8_t* a_packed = a_shared;
  if (!a_shared) {
    const int64_t mc_padded = (mc + MR - 1) / MR * MR;
    uint8_t* a_own = reinterpret_cast<uint8_t*>(thread_scratch(1, (mc_padded * kq * AQ + 3) / 4));
    quantize_pack_a(g.a + row0 * g.lda, g.lda, mc, g.k, a_own, g.a_scale + row0, false);
    a_packed = a_own;
  }
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    const int rows = static_cast<int>(mc - i0 < MR ? mc - i0 : MR);
    const int64_t row = row0 + i0;
    for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
      const int64_t col0 = panel * NR;
      const int n_valid = static_cast<int>(g.n - col0 < NR ? g.n - col0 : NR);
      const int8_t* w = g.packed_w + panel * kq * NR * 4;
      const Epilogue ep = epilogue_at(g, row, col0);
      constexpr auto all_rows = std::make_integer_sequence<int, MR>{};
      const auto multiply = g.m <= MC ? multiply_for_rows<4>(rows, all_rows)
                                      : multiply_for_rows<1>(rows, all_rows);
      Tile tile;
      multiply(kq, a_packed + i0 * kq * AQ, w, tile);
      write_tile_for_rows<A>(rows, all_rows)(tile, g.c ? g.c + row * g.ldc + col0 : nullptr,
                                             g.ldc, n_valid, ep);
    }
  }
  if (g.stream) V::stream_fence();
}

#if defined(PT_ISA_AMX)
// AMX. Eight tile registers of up to 16 rows x 64 bytes; tdpbusd multiplies a tile of 16 rows x
// 64 u8 depths by one of 16 depth quads x 16 columns (s8, 4 depths per 32-bit lane: exactly the
// layout of 16 columns of a packed panel, whose quad rows lie NR * 4 bytes apart) into a 16 x 16
// int32 tile: 16384 multiply-adds per instruction, 256 times vpdpbusd's. The activations go
// into tiles as rows, so a row block is quantized row-major (q + 128, as for VNNI: the same
// compensation applies) instead of in micro-panels. Per 64 depths of a 16 x 48 block of c:
// one activation tile, the panel's three 16-column tiles, three tdpbusd into three accumulator
// tiles; the accumulators then go through the VNNI epilogue (write_tile), MR rows at a time.
constexpr int kTileRows = 16;   // rows of an activation or accumulator tile
constexpr int kTileDepth = 64;  // depths of an activation tile row (16 quads)
static_assert(NR == 3 * W, "a panel is three 16-column tiles");

// Tile shapes: 0-2 accumulators (16 rows x 16 int32), 3 activations (16 rows x 64 u8), 4-6 the
// panel's column groups (16 quads x 16 columns x 4 s8). Loaded by each thread before its tile
// multiplies (ldtilecfg), released after.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

bool tiles_apply(const Problem& g) { return g.k % kTileDepth == 0 && g.m >= kTileRows; }

// dst[r][0 : k] = quantize(a[r]) + 128 (u8) for rows [0, m); rows [m, padded_rows) hold q = 0:
// a block's last tile may be partly filled, and its extra rows are read, never written out.
void quantize_rows_for_tiles(const float* a, int64_t lda, int64_t m, int64_t padded_rows,
                             int64_t k, uint8_t* dst, float* a_scale, bool parallel) {
  parallel_for(m, parallel, [&](int64_t row) {
    uint8_t* q = dst + row * k;  // k is a multiple of 64: quantize_row writes k bytes exactly
    a_scale[row] = quantize_row(a + row * lda, k, reinterpret_cast<int8_t*>(q));
    for (int64_t p = 0; p < k; ++p) q[p] ^= 0x80;
  });
  std::memset(dst + m * k, 0x80, static_cast<size_t>((padded_rows - m) * k));
}

// gemm_block through the tiles. `a_shared` is null (quantize this block's rows here) or holds
// its rows, row-major, with at least a whole last tile of rows. Panels outermost: each panel
// (K / 4 quads x 192 bytes) stays in L2 while every 16-row tile of the block goes past it.
template <Activation A>
void gemm_block_tiles(const Problem& g, int64_t row0, int64_t mc, int64_t panel_begin,
                      int64_t panel_end, const uint8_t* a_shared) {
  const uint8_t* a_rows = a_shared;
  if (!a_rows) {
    const int64_t padded = (mc + kTileRows - 1) / kTileRows * kTileRows;
    uint8_t* own = reinterpret_cast<uint8_t*>(thread_scratch(1, (padded * g.k + 3) / 4));
    quantize_rows_for_tiles(g.a + row0 * g.lda, g.lda, mc, padded, g.k, own, g.a_scale + row0,
                            false);
    a_rows = own;
  }
  TileConfig config;
  for (int t = 0; t < 7; ++t) config.bytes_per_row[t] = 64, config.rows[t] = kTileRows;
  _tile_loadconfig(&config);
  const int64_t w_stride = NR * 4;  // bytes from one depth quad of a panel to the next
  alignas(64) int32_t acc[kTileRows][NR];
  constexpr auto all_rows = std::make_integer_sequence<int, MR>{};
  for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
    const int64_t col0 = panel * NR;
    const int n_valid = static_cast<int>(g.n - col0 < NR ? g.n - col0 : NR);
    const int8_t* w = g.packed_w + panel * (g.k / 4) * w_stride;
    for (int64_t i0 = 0; i0 < mc; i0 += kTileRows) {
      const uint8_t* a = a_rows + i0 * g.k;
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      for (int64_t d = 0; d < g.k; d += kTileDepth) {
        const int8_t* wd = w + d / 4 * w_stride;
        _tile_loadd(3, a + d, g.k);
        _tile_loadd(4, wd, w_stride);
        _tile_loadd(5, wd + 64, w_stride);
        _tile_loadd(6, wd + 128, w_stride);
        _tile_dpbusd(0, 3, 4);
        _tile_dpbusd(1, 3, 5);
        _tile_dpbusd(2, 3, 6);
      }
      _tile_stored(0, &acc[0][0], w_stride);
      _tile_stored(1, &acc[0][W], w_stride);
      _tile_stored(2, &acc[0][2 * W], w_stride);
      for (int r0 = 0; r0 < kTileRows && i0 + r0 < mc; r0 += MR) {
        const int rows = static_cast<int>(mc - i0 - r0 < MR ? mc - i0 - r0 : MR);
        const int64_t row = row0 + i0 + r0;
        Tile tile;
        for (int r = 0; r < MR; ++r)
          for (int j = 0; j < NV; ++j) tile[r][j] = S::load_partial(&acc[r0 + r][j * W], W);
        const Epilogue ep = epilogue_at(g, row, col0);
        write_tile_for_rows<A>(rows, all_rows)(tile, g.c ? g.c + row * g.ldc + col0 : nullptr,
                                               g.ldc, n_valid, ep);
      }
    }
  }
  _tile_release();
  if (g.stream) V::stream_fence();
}
#endif

template <Activation A>
void gemm_impl(const Problem& g) {
  const int64_t panels = (g.n + NR - 1) / NR;
  const bool parallel = 2.0 * g.m * g.n * g.k >= 2e5 && num_threads() > 1;
  const int threads = parallel ? num_threads() : 1;
  const GemmTasks plan = plan_gemm_tasks(g.m, panels, MC, MR, threads);
  // Rows that several tasks read (see plan_gemm_tasks): quantize them once, in parallel, and
  // share them.
#if defined(PT_ISA_AMX)
  const bool tiles = tiles_apply(g);
#else
  constexpr bool tiles = false;
#endif
  const uint8_t* a_shared = nullptr;
  const bool parallel_quantize = g.m * g.k >= (1 << 14);
  if (plan.share_rows && tiles) {
#if defined(PT_ISA_AMX)
    // Row-major; a block starting at a row that is not a multiple of 16 can end its last tile
    // up to 16 rows past the rounded-up count.
    const int64_t padded = (g.m + kTileRows - 1) / kTileRows * kTileRows + kTileRows;
    uint8_t* a_rows = reinterpret_cast<uint8_t*>(thread_scratch(1, (padded * g.k + 3) / 4));
    quantize_rows_for_tiles(g.a, g.lda, g.m, padded, g.k, a_rows, g.a_scale, parallel_quantize);
    a_shared = a_rows;
#endif
  } else if (plan.share_rows) {
    const int64_t m_padded = (g.m + MR - 1) / MR * MR;
    uint8_t* a_packed =
        reinterpret_cast<uint8_t*>(thread_scratch(1, (m_padded * quads(g.k) * AQ + 3) / 4));
    quantize_pack_a(g.a, g.lda, g.m, g.k, a_packed, g.a_scale, parallel_quantize);
    a_shared = a_packed;
  }
  // A block's rows start at row0 * K bytes in either layout: row-major for the tiles (K is a
  // multiple of 64), and for the micro-panels because row0 is a multiple of MR.
  for_each_gemm_task(plan, g.m, panels, threads,
                     [&](int64_t row0, int64_t rows, int64_t panel_begin, int64_t panel_end) {
                       const uint8_t* shared_rows =
                           a_shared ? a_shared + row0 * quads(g.k) * AQ : nullptr;
#if defined(PT_ISA_AMX)
                       if (tiles) {
                         gemm_block_tiles<A>(g, row0, rows, panel_begin, panel_end, shared_rows);
                         return;
                       }
#endif
                       gemm_block<A>(g, row0, rows, panel_begin, panel_end, shared_rows);
                     });
}

int64_t gemm_s8_packed_size(int64_t n, int64_t k) {
  const int64_t n_padded = (n + NR - 1) / NR * NR;
  return n_padded * quads(k) * 4 + n_padded * static_cast<int64_t>(sizeof(int32_t));
}

// packed: panels [ceil(N / NR)][KQ][NR][4] int8, then comp [N rounded up to NR] int32.
void gemm_s8_pack(const int8_t* w, int64_t n, int64_t k, void* packed) {
  const int64_t kq = quads(k);
  const int64_t panels = (n + NR - 1) / NR;
  int8_t* dst_w = static_cast<int8_t*>(packed);
  int32_t* comp = reinterpret_cast<int32_t*>(dst_w + panels * NR * kq * 4);
  parallel_for(panels, n * k >= (1 << 18), [&](int64_t panel) {
    int8_t* dst = dst_w + panel * kq * NR * 4;
    for (int j = 0; j < NR; ++j) {
      const int64_t col = panel * NR + j;
      int32_t sum = 0;
      for (int64_t p = 0; p < kq * 4; ++p) {
        const int8_t v = col < n && p < k ? w[col * k + p] : 0;
        dst[((p / 4) * NR + j) * 4 + p % 4] = v;
        sum += v;
      }
      comp[col] = 128 * sum;
    }
  });
}

void gemm_s8(const float* a, int64_t lda, const void* packed_w, const float* w_scale,
             const float* bias, const float* residual, int64_t ld_residual, float* c,
             int64_t ldc, int64_t m, int64_t n, int64_t k, Activation act, int32_t* acc_out) {
  if (m == 0 || n == 0) return;
  const int64_t panels = (n + NR - 1) / NR;
  const int8_t* w = static_cast<const int8_t*>(packed_w);
  const int32_t* comp = reinterpret_cast<const int32_t*>(w + panels * NR * quads(k) * 4);
  // The row scales live in the calling thread's scratch (slot 3); tasks fill disjoint rows.
  const Problem problem{a,        lda,         thread_scratch(3, m), w,  comp,
                        w_scale,  bias,        residual,             ld_residual, c,
                        acc_out,  ldc,         m,                    n,  k,
                        c && streams_output(m, n)};
  with_activation(act, [&](auto a_tag) { gemm_impl<decltype(a_tag)::value>(problem); });
}

void quantize_rows(const float* x, int64_t rows, int64_t k, int8_t* q, float* scales) {
  int8_t* row_q = reinterpret_cast<int8_t*>(thread_scratch(2, (quads(k) * 4 + 3) / 4));
  for (int64_t r = 0; r < rows; ++r) {
    scales[r] = quantize_row(x + r * k, k, row_q);
    std::memcpy(q + r * k, row_q, k);
  }
}

}  // namespace
}  // namespace pt::kernels::PT_ISA_NS

namespace pt {

const GemmS8Kernels& PT_S8_CONCAT(gemm_s8_kernels_, PT_ISA_NS)() {
  namespace k = kernels::PT_ISA_NS;
  static const GemmS8Kernels table{
#if defined(PT_ISA_AMX)
      "avx512_amx",
#elif defined(PT_ISA_VNNI)
      "avx512_vnni",
#elif defined(PT_ISA_AVX512)
      "avx512bw",
#else
      PT_S8_STRINGIFY(PT_ISA_NS),
#endif
      &k::gemm_s8_packed_size, &k::gemm_s8_pack, &k::gemm_s8, &k::quantize_rows};
  return table;
}

}  // namespace pt
