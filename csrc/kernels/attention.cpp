// Fused scaled-dot-product attention: out = softmax(q k^T * scale + bias, masked) v, computed
// flash-attention style: key tiles, online softmax, no [Tq, Tk] score matrix in memory.
// B = batch, H = query heads, Hkv = key/value heads, G = H / Hkv query heads per kv head,
// Tq/Tk = query/key positions, D = head dim. Shapes and strides are in attention_args.h.
//
// A kv head's "rows" are its G heads' queries flattened, row = g * Tq + i: grouped-query heads
// then share every K/V load, and a GQA decode step (Tq = 1) still fills the vector lanes.
// One task = (b, kv head, block of up to BQ rows):
//   Qt = (q * scale * log2 e)^T         [D, BQ]   packed once; queries run along the lanes
//   for each tile of up to BK *visible* keys (padded keys, keys past the block's last visible
//   one and keys before its sliding windows never enter):
//     St = K_tile Qt (mask)              [BK, BQ]  one broadcast k[j][d] times Qt vectors; the
//                                                  tile's max per query taken on the way
//     (+ bias * log2 e, and the max again)
//     online softmax down the columns: max and sum are over keys = across vectors, so they
//       are plain vertical ops, never a horizontal reduction; P = 2^(St - m) overwrites St
//     O = O * alpha + P^T V              [BQ, D]   P broadcast, V rows as vectors over D
//   out = O / l, zeros where l = 0 (a query that saw no key)
// A block of at most W / 4 rows (a decode step without GQA) would leave most lanes idle, so it
// takes the row path instead: per row, scores with the lanes along D, softmax along keys; it is
// still one pass over K and V. Tasks are scheduled dynamically: causal blocks differ in work.
// Memory per thread: Qt + St + O, O(BQ * (D + BK)) floats, whatever Tq and Tk are.
// Scores are kept in base 2 (scaled by log2 e, folded into the query scale): softmax's
// exponentials are then 2^x, which cost fewer instructions than e^x (vec_math.h), and the
// weights are the same: e^(s - m) = 2^((s - m) log2 e).
#include <atomic>
#include <cfloat>
#include <cmath>

#include "cpu/threading.h"
#include "kernels/kernels.h"

namespace pt::kernels::PT_ISA_NS {
namespace {

using V = Vec;
using Reg = V::reg;
constexpr int W = V::width;

// Register blocking. Scores: kScoreKeys keys x kQueryVecs query vectors of accumulators
// (24 zmm of 32 / 8 ymm of 16). P V: kPvAccs accumulators, rows x D-vectors, at most kPvVecs
// D-vectors, so that short heads (D = 32: 8 rows x 2) still keep enough FMAs in flight.
// Tile sizes measured against these (AVX-512, 1 thread, the op alone, paired in one process;
// MiniLM B=32 T=128 D=32 / GPT-2 causal T=512 D=64 / base B=8 T=64 D=64): BK = 32 0.97 / 0.94 /
// 0.96x, BK = 128 1.00 / 0.93 / 1.00x, 32-row blocks with 12-key score tiles and BK = 48
// 0.93 / 0.94 / 0.88x (presumably: smaller tiles pay the per-tile work more often, larger ones
// push St, K, V and O past L1's 48 KiB).
// The kernel runs at 55-95 GFLOP/s there; by the profile, scores ~28% of its time, P V ~35%,
// the softmax's exponentials ~17% (per 16 scores: 64 FMAs of products, ~17 other vector ops).
constexpr int kQueryVecs = 4;
constexpr int BQ = kQueryVecs * W;  // rows per block: 64 / 32 / 4
constexpr int kScoreKeys = W >= 16 ? 6 : 2;
constexpr int BK = 64;  // visible keys per tile: St is BK x BQ (16 KiB with AVX-512), in L1
constexpr int kTileKeys = (BK + kScoreKeys - 1) / kScoreKeys * kScoreKeys;  // St rows
constexpr int kPvAccs = W >= 16 ? 16 : 8;
constexpr int kPvVecs = W >= 16 ? 4 : 2;
constexpr int kPvRowsMax = BQ < kPvAccs ? BQ : kPvAccs;  // P V row groups tile this many rows

// Rows per P V micro-tile for NDV D-vectors: a power of two, so every one divides kPvRowsMax.
constexpr int pv_rows_for(int ndv) {
  int pow2 = 1;
  while (pow2 < ndv) pow2 *= 2;
  return kPvAccs / pow2 < BQ ? kPvAccs / pow2 : BQ;
}

constexpr float kLog2e = 1.44269504088896341f;

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

inline Reg load_n(const float* p, int n) { return n == W ? V::load(p) : V::load_partial(p, n); }

// Where one block's rows live, and which keys they may see.
struct Block {
  int n = 0;        // rows in use, <= BQ
  int rows = 0;     // n rounded up to whole P V row groups (the extra rows are zero queries)
  int nqv = 0;      // query vectors covering them
  bool by_row = false;  // few rows: the row path (see score_row)
  const float* q_row[BQ];       // q + b, h, i
  float* out_row[BQ];           // out + b, h, i
  const float* bias_row[BQ];    // bias + b, h, i (when there is a bias)
  // The keys each row may see, [first, last] (causal, sliding window), as floats for the lanes.
  alignas(64) float first[BQ];
  alignas(64) float last[BQ];
  int64_t first_min = INT64_MAX, first_max = INT64_MIN;  // over the rows in use
  int64_t last_min = INT64_MAX, last_max = INT64_MIN;
};

// St[t][:] = sum_d krow[t][d] * Qt[d][:] for kScoreKeys keys, NQV query vectors. With kMask,
// a score of a key outside its row's [first, last] becomes -inf. tile_max takes the max of
// every query lane, so the softmax needs no pass of its own for it.
template <int NQV, bool kMask>
void score_keys(const float* const* krow, const int64_t* key, const float* first,
                const float* last, const float* qt, int64_t D, float* st, Reg* tile_max) {
  Reg acc[kScoreKeys][NQV];
  for (int t = 0; t < kScoreKeys; ++t)
    for (int c = 0; c < NQV; ++c) acc[t][c] = V::zero();
  for (int64_t d = 0; d < D; ++d) {
    Reg qv[NQV];
    for (int c = 0; c < NQV; ++c) qv[c] = V::load(qt + d * BQ + c * W);
    for (int t = 0; t < kScoreKeys; ++t) {
      const Reg kb = V::set1(krow[t][d]);
      for (int c = 0; c < NQV; ++c) acc[t][c] = V::fma(kb, qv[c], acc[t][c]);
    }
  }
  for (int t = 0; t < kScoreKeys; ++t) {
    for (int c = 0; c < NQV; ++c) {
      Reg s = acc[t][c];
      if (kMask) {
        const Reg at = V::set1(static_cast<float>(key[t]));
        s = V::select_less(V::load(last + c * W), at, V::set1(-INFINITY), s);
        s = V::select_less(at, V::load(first + c * W), V::set1(-INFINITY), s);
      }
      tile_max[c] = V::max(tile_max[c], s);
      V::store(st + t * BQ + c * W, s);
    }
  }
}

// St for nk keys (a whole number of micro-tiles; the padding repeats the last key, which
// leaves the max unchanged) and the first nqv <= NQV query vectors; tile_max [BQ] gets the max
// of each query over them.
template <int NQV = kQueryVecs>
void score_tile(int nqv, const float* const* krow, const int64_t* key, int nk, bool mask,
                const Block& blk, const float* qt, int64_t D, float* st, float* tile_max) {
  if constexpr (NQV > 1) {
    if (nqv < NQV) return score_tile<NQV - 1>(nqv, krow, key, nk, mask, blk, qt, D, st, tile_max);
  }
  Reg mx[NQV];
  for (int c = 0; c < NQV; ++c) mx[c] = V::set1(-INFINITY);
  for (int t = 0; t < nk; t += kScoreKeys) {
    if (mask)
      score_keys<NQV, true>(krow + t, key + t, blk.first, blk.last, qt, D, st + t * BQ, mx);
    else
      score_keys<NQV, false>(krow + t, key + t, blk.first, blk.last, qt, D, st + t * BQ, mx);
  }
  for (int c = 0; c < NQV; ++c) V::store(tile_max + c * W, mx[c]);
}

// tile_max [BQ] = the max of each query over St's nk keys (after a bias was added).
void column_max(const float* st, int nk, int nqv, float* tile_max) {
  for (int c = 0; c < nqv; ++c) {
    Reg mx = V::set1(-INFINITY);
    for (int t = 0; t < nk; ++t) mx = V::max(mx, V::load(st + t * BQ + c * W));
    V::store(tile_max + c * W, mx);
  }
}

// Online softmax of one tile (masked already, its max per row in tile_max), column by column:
// m (running max), l (running sum) and alpha (rescale of O for this tile) are per row. St
// becomes P = 2^(St - m_new).
void softmax_tile(float* st, int nk, int nqv, const float* tile_max, float* m, float* l,
                  float* alpha) {
  for (int c = 0; c < nqv; ++c) {
    float* col = st + c * W;
    const Reg m_old = V::load(m + c * W);
    const Reg m_new = V::max(m_old, V::load(tile_max + c * W));
    // A row that has seen only hidden keys keeps m = -inf; 2^x against 0 then gives exact
    // zeros (exp2 is exactly 0 below -127) instead of 2^(-inf + inf) = NaN.
    const Reg m_use = V::select_less(m_new, V::set1(-FLT_MAX), V::zero(), m_new);
    const Reg a = exp2<V>(V::sub(m_old, m_use));
    Reg sum = V::zero();
    for (int t = 0; t < nk; ++t) {
      const Reg e = exp2<V>(V::sub(V::load(col + t * BQ), m_use));
      V::store(col + t * BQ, e);
      sum = V::add(sum, e);
    }
    V::store(m + c * W, m_new);
    V::store(alpha + c * W, a);
    V::store(l + c * W, V::fma(V::load(l + c * W), a, sum));
  }
}

// Few rows (a decode step): a block would leave at least 3/4 of the lanes idle, so each row
// takes its own pass, with the lanes along D for the scores and along keys for the softmax.
// s[t] = scale * q . krow[t] for nk keys (a whole number of kScoreKeys), kScoreKeys at a time so
// that the FMA chains overlap (scale includes log2 e: scores in base 2, as in the block path).
void score_row(const float* q, float scale, const float* const* krow, int nk, int64_t D, float* s) {
  for (int t = 0; t < nk; t += kScoreKeys) {
    Reg acc[kScoreKeys];
    for (int u = 0; u < kScoreKeys; ++u) acc[u] = V::zero();
    for (int64_t d = 0; d < D; d += W) {
      const int w = static_cast<int>(D - d < W ? D - d : W);
      const Reg qv = load_n(q + d, w);
      for (int u = 0; u < kScoreKeys; ++u) acc[u] = V::fma(qv, load_n(krow[t + u] + d, w), acc[u]);
    }
    for (int u = 0; u < kScoreKeys; ++u) s[t + u] = V::reduce_add(acc[u]) * scale;
  }
}

// Online softmax of one row's nk scores, in base 2 (s has room to pad them to a whole vector).
void softmax_row(float* s, int nk, float& m, float& l, float& alpha) {
  const int nv = static_cast<int>(round_up(nk, W));
  for (int t = nk; t < nv; ++t) s[t] = -INFINITY;
  Reg vmax = V::set1(-INFINITY);
  for (int t = 0; t < nv; t += W) vmax = V::max(vmax, V::load(s + t));
  const float tile_max = V::reduce_max(vmax);
  const float m_new = tile_max > m ? tile_max : m;
  const float m_use = m_new == -INFINITY ? 0.0f : m_new;  // as in softmax_tile
  const Reg mu = V::set1(m_use);
  Reg sum = V::zero();
  for (int t = 0; t < nv; t += W) {
    const Reg e = exp2<V>(V::sub(V::load(s + t), mu));
    V::store(s + t, e);
    sum = V::add(sum, e);
  }
  alpha = std::exp2(m - m_use);
  l = l * alpha + V::reduce_add(sum);
  m = m_new;
}

// O[r][0 : NDV W] = alpha[r] O[r][...] + sum_t p[t * PK + r] vrow[t][d0 : d0 + NDV W] for R
// rows; the last vector holds tail_n <= W columns (exactly W when kWholeVectors, which keeps
// the partial-load branch out of the key loop). p, alpha and o point at the first row.
template <int R, int NDV, int PK, bool kWholeVectors>
void pv_micro(const float* p, int nk, const float* const* vrow, int64_t d0, int tail_n,
              const float* alpha, float* o, int64_t o_stride) {
  Reg acc[R][NDV];
  for (int r = 0; r < R; ++r) {
    const Reg a = V::set1(alpha[r]);
    for (int c = 0; c < NDV; ++c) acc[r][c] = V::mul(V::load(o + r * o_stride + c * W), a);
  }
  for (int t = 0; t < nk; ++t) {
    const float* vt = vrow[t] + d0;
    Reg vv[NDV];
    for (int c = 0; c < NDV; ++c)
      vv[c] = kWholeVectors || c + 1 < NDV ? V::load(vt + c * W)
                                           : V::load_partial(vt + c * W, tail_n);
    for (int r = 0; r < R; ++r) {
      const Reg pt = V::set1(p[t * PK + r]);
      for (int c = 0; c < NDV; ++c) acc[r][c] = V::fma(pt, vv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NDV; ++c) V::store(o + r * o_stride + c * W, acc[r][c]);
}

// Rows [0, n) of one D-chunk of NDV vectors: R = pv_rows_for(NDV) at a time (row groups may
// run past n, up to a multiple of kPvRowsMax), or one by one for the row path. P is st in the
// block layout, st[t * BQ + r], or in the row layout, st[r * kTileKeys + t].
template <int NDV, bool kWholeVectors>
void pv_rows(bool by_row, const float* p, int nk, int n, const float* const* vrow, int64_t d0,
             int tail_n, const float* alpha, float* o, int64_t o_stride) {
  constexpr int R = pv_rows_for(NDV);
  if (by_row) {
    for (int r = 0; r < n; ++r)
      pv_micro<1, NDV, 1, kWholeVectors>(p + r * kTileKeys, nk, vrow, d0, tail_n, alpha + r,
                                         o + r * o_stride, o_stride);
  } else {
    for (int r = 0; r < n; r += R)
      pv_micro<R, NDV, BQ, kWholeVectors>(p + r, nk, vrow, d0, tail_n, alpha + r,
                                          o + r * o_stride, o_stride);
  }
}

// One D-chunk of ndv <= NDV vectors starting at d0, for rows [0, n) (see pv_rows).
template <int NDV = kPvVecs>
void pv_cols(int ndv, bool by_row, const float* p, int nk, int n, const float* const* vrow,
             int64_t d0, int tail_n, const float* alpha, float* o, int64_t o_stride) {
  if constexpr (NDV > 1) {
    if (ndv < NDV)
      return pv_cols<NDV - 1>(ndv, by_row, p, nk, n, vrow, d0, tail_n, alpha, o, o_stride);
  }
  if (tail_n == W)
    pv_rows<NDV, true>(by_row, p, nk, n, vrow, d0, tail_n, alpha, o, o_stride);
  else
    pv_rows<NDV, false>(by_row, p, nk, n, vrow, d0, tail_n, alpha, o, o_stride);
}

// O (rows x Dp, Dp = D rounded up to W) = alpha O + P^T V, D in chunks of kPvVecs vectors.
void pv_tile(bool by_row, const float* p, int nk, int n, const float* const* vrow, int64_t D,
             const float* alpha, float* o, int64_t Dp) {
  for (int64_t d0 = 0; d0 < D; d0 += kPvVecs * W) {
    const int64_t cols = D - d0 < kPvVecs * W ? D - d0 : kPvVecs * W;
    const int ndv = static_cast<int>((cols + W - 1) / W);
    const int tail_n = static_cast<int>(cols - (ndv - 1) * W);
    pv_cols(ndv, by_row, p, nk, n, vrow, d0, tail_n, alpha, o + d0, Dp);
  }
}

// The first key query i may see: its sliding window's start, or 0.
int64_t first_key(const AttentionArgs& p, int64_t i) {
  const int64_t first = i + p.k_len - p.q_len - p.sliding_window + 1;
  return p.sliding_window && first > 0 ? first : 0;
}

// Rows [row0, row0 + n) of kv head kvh in batch b: row = g * Tq + i is query i of head kvh G + g.
Block gather_rows(const AttentionArgs& p, int64_t b, int64_t kvh, int64_t row0, int n) {
  Block blk;
  blk.n = n;
  blk.rows = static_cast<int>(round_up(n, kPvRowsMax));
  blk.nqv = (blk.rows + W - 1) / W;
  blk.by_row = n <= W / 4;
  const int64_t G = p.heads / p.kv_heads;
  const int64_t shift = p.k_len - p.q_len;  // causal: query i sees keys j <= i + shift
  for (int r = 0; r < blk.nqv * W; ++r) {
    if (r >= n) {  // lanes past n: zero queries that see every key, so they stay finite
      blk.first[r] = 0.0f;
      blk.last[r] = static_cast<float>(p.k_len);
      continue;
    }
    const int64_t h = kvh * G + (row0 + r) / p.q_len, i = (row0 + r) % p.q_len;
    blk.q_row[r] = p.q + b * p.q_stride_b + h * p.q_stride_h + i * p.q_stride_t;
    blk.out_row[r] = p.out + b * p.out_stride_b + h * p.out_stride_h + i * p.out_stride_t;
    if (p.bias)
      blk.bias_row[r] = p.bias + b * p.bias_stride_b + h * p.bias_stride_h + i * p.bias_stride_q;
    const int64_t last = p.causal ? i + shift : p.k_len - 1;
    const int64_t first = first_key(p, i);
    blk.first[r] = static_cast<float>(first);
    blk.last[r] = static_cast<float>(last);
    blk.first_min = first < blk.first_min ? first : blk.first_min;
    blk.first_max = first > blk.first_max ? first : blk.first_max;
    blk.last_min = last < blk.last_min ? last : blk.last_min;
    blk.last_max = last > blk.last_max ? last : blk.last_max;
  }
  return blk;
}

// Qt = (q * scale)^T, zero columns past n: W rows x W dims at a time, loaded as row vectors
// and transposed in registers (element by element, the packing was ~8% of a block's time at
// D = 32).
void pack_queries(const Block& blk, int64_t D, float scale, float* qt) {
  const Reg s = V::set1(scale);
  for (int r0 = 0; r0 < blk.nqv * W; r0 += W) {
    for (int64_t d0 = 0; d0 < D; d0 += W) {
      const int dims = static_cast<int>(D - d0 < W ? D - d0 : W);
      Reg block[W];
      for (int i = 0; i < W; ++i)
        block[i] = r0 + i < blk.n ? load_n(blk.q_row[r0 + i] + d0, dims) : V::zero();
      V::transpose(block);
      for (int c = 0; c < dims; ++c) V::store(qt + (d0 + c) * BQ + r0, V::mul(block[c], s));
    }
  }
}

// The next (up to) BK keys in [j, end) that are not padding, from j on; advances j. Padding is
// dropped here, so a padded key costs one byte read and a fully padded stretch no tile at all.
int next_keys(const uint8_t* pad, int64_t& j, int64_t end, int64_t* key) {
  int nk = 0;
  for (; j < end && nk < BK; ++j)
    if (!pad || !pad[j]) key[nk++] = j;
  return nk;
}

// Row path for one tile: scores, bias, mask and online softmax row by row; P lands in
// st[r * kTileKeys + t].
void softmax_rows(const AttentionArgs& p, const Block& blk, const int64_t* key,
                  const float* const* krow, int nk, int nk_pad, bool mask, float* st, float* m,
                  float* l, float* alpha) {
  for (int r = 0; r < blk.n; ++r) {
    float* s = st + r * kTileKeys;
    score_row(blk.q_row[r], p.scale * kLog2e, krow, nk_pad, p.head_dim, s);
    for (int t = 0; t < nk; ++t) {
      if (p.bias) s[t] += blk.bias_row[r][key[t] * p.bias_stride_k] * kLog2e;
      if (mask && (key[t] > blk.last[r] || key[t] < blk.first[r])) s[t] = -INFINITY;
    }
    softmax_row(s, nk, m[r], l[r], alpha[r]);
  }
}

// out[r] = O[r] / l[r]; l = 0 means every key was hidden (or had a -inf bias): zeros, not 0/0.
void write_rows(const Block& blk, const float* o, const float* l, int64_t D, int64_t Dp) {
  for (int r = 0; r < blk.n; ++r) {
    const Reg inv = V::set1(l[r] > 0.0f ? 1.0f / l[r] : 0.0f);
    for (int64_t d = 0; d < D; d += W) {
      const int w = static_cast<int>(D - d < W ? D - d : W);
      V::store_partial(blk.out_row[r] + d, V::mul(V::load(o + r * Dp + d), inv), w);
    }
  }
}

// One task: rows [row0, row0 + n) of kv head kvh in batch b; see the top of the file.
// scratch holds Qt [D, BQ], St [kTileKeys, BQ] and O [BQ, Dp], Dp = D rounded up to W.
void attend_block(const AttentionArgs& p, int64_t b, int64_t kvh, int64_t row0, int n,
                  float* scratch) {
  const int64_t D = p.head_dim, Dp = round_up(D, W);
  float* qt = scratch;
  float* st = qt + D * BQ;
  float* o = st + kTileKeys * BQ;
  const Block blk = gather_rows(p, b, kvh, row0, n);
  if (!blk.by_row) pack_queries(blk, D, p.scale * kLog2e, qt);
  alignas(64) float m[BQ], l[BQ], alpha[BQ], tile_max[BQ];
  for (int r = 0; r < BQ; ++r) m[r] = -INFINITY, l[r] = 0.0f;
  for (int64_t x = 0; x < blk.rows * Dp; ++x) o[x] = 0.0f;

  const float* k = p.k + b * p.k_stride_b + kvh * p.k_stride_h;
  const float* v = p.v + b * p.v_stride_b + kvh * p.v_stride_h;
  const uint8_t* pad =
      p.key_padding_mask ? p.key_padding_mask + b * p.key_padding_stride_b : nullptr;
  // Keys past the block's last visible key (causal tiles above the diagonal) and before its
  // first (behind every row's sliding window) are never visited.
  const int64_t end = blk.last_max + 1 < p.k_len ? blk.last_max + 1 : p.k_len;
  int64_t key[kTileKeys];
  const float* krow[kTileKeys];
  const float* vrow[kTileKeys];
  int64_t j = blk.first_min;
  for (int nk; (nk = next_keys(pad, j, end, key)) > 0;) {
    // Pad to whole score micro-tiles by repeating the last key (its extra scores are unused).
    const int nk_pad = static_cast<int>(round_up(nk, kScoreKeys));
    for (int t = nk; t < nk_pad; ++t) key[t] = key[nk - 1];
    for (int t = 0; t < nk_pad; ++t)
      krow[t] = k + key[t] * p.k_stride_t, vrow[t] = v + key[t] * p.v_stride_t;
    // Only tiles crossing the diagonal or a window's start for some row need the mask.
    const bool mask = (p.causal && key[nk - 1] > blk.last_min) || key[0] < blk.first_max;
    if (blk.by_row) {
      softmax_rows(p, blk, key, krow, nk, nk_pad, mask, st, m, l, alpha);
    } else {
      score_tile(blk.nqv, krow, key, nk_pad, mask, blk, qt, D, st, tile_max);
      if (p.bias) {
        for (int t = 0; t < nk; ++t)
          for (int r = 0; r < n; ++r)
            st[t * BQ + r] += blk.bias_row[r][key[t] * p.bias_stride_k] * kLog2e;
        column_max(st, nk, blk.nqv, tile_max);
      }
      softmax_tile(st, nk, blk.nqv, tile_max, m, l, alpha);
    }
    pv_tile(blk.by_row, st, nk, n, vrow, D, alpha, o, Dp);
  }
  write_rows(blk, o, l, D, Dp);
}

// Sequence b of p as a batch of one: pointers moved to its first query and key, its own lengths.
AttentionArgs sequence(const AttentionArgs& p, int64_t b) {
  AttentionArgs s = p;
  s.batch = 1;
  if (p.q_offsets) {
    s.q += p.q_offsets[b] * p.q_stride_t, s.out += p.q_offsets[b] * p.out_stride_t;
    s.q_len = p.q_offsets[b + 1] - p.q_offsets[b];
  } else {
    s.q += b * p.q_stride_b, s.out += b * p.out_stride_b;
  }
  if (p.k_offsets) {
    s.k += p.k_offsets[b] * p.k_stride_t, s.v += p.k_offsets[b] * p.v_stride_t;
    s.k_len = p.k_offsets[b + 1] - p.k_offsets[b];
  } else {
    s.k += b * p.k_stride_b, s.v += b * p.v_stride_b;
  }
  if (p.key_padding_mask) s.key_padding_mask += b * p.key_padding_stride_b;
  if (p.bias) s.bias += b * p.bias_stride_b;
  s.q_offsets = s.k_offsets = nullptr;
  return s;
}

// Query blocks of one (sequence, kv head): G * Tq rows in blocks of BQ.
int64_t blocks_of(const AttentionArgs& p, int64_t b) {
  const int64_t q_len = p.q_offsets ? p.q_offsets[b + 1] - p.q_offsets[b] : p.q_len;
  return (p.heads / p.kv_heads * q_len + BQ - 1) / BQ;
}

// One task: rows [row0, row0 + rows) of kv head kv_head of one sequence (a batch of one).
struct Task {
  AttentionArgs seq;
  int64_t kv_head, row0;
  int rows;
};

// Tasks are numbered sequence by sequence, kv head by kv head, query block by query block.
Task task_at(const AttentionArgs& p, int64_t index) {
  int64_t b = 0, first = 0;  // the sequence of this task, and its first task
  while (first + p.kv_heads * blocks_of(p, b) <= index) first += p.kv_heads * blocks_of(p, b++);
  Task t;
  t.seq = sequence(p, b);
  const int64_t blocks = blocks_of(t.seq, 0), local = index - first;
  const int64_t G = p.heads / p.kv_heads;
  t.kv_head = local / blocks;
  t.row0 = (local % blocks) * BQ;
  t.rows = static_cast<int>(G * t.seq.q_len - t.row0 < BQ ? G * t.seq.q_len - t.row0 : BQ);
  return t;
}

// Asks for a task's query rows and its first tile of key and value rows to be brought into L2.
void prefetch_inputs(const Task& t) {
  constexpr int64_t kLine = 64 / sizeof(float);
  const AttentionArgs& s = t.seq;
  const int64_t G = s.heads / s.kv_heads, D = s.head_dim;
  for (int r = 0; r < t.rows; ++r) {
    const int64_t h = t.kv_head * G + (t.row0 + r) / s.q_len, i = (t.row0 + r) % s.q_len;
    const float* q = s.q + h * s.q_stride_h + i * s.q_stride_t;
    for (int64_t d = 0; d < D; d += kLine) V::prefetch_l2(q + d);
  }
  const float* k = s.k + t.kv_head * s.k_stride_h;
  const float* v = s.v + t.kv_head * s.v_stride_h;
  // The earliest query of the task (query 0 when its rows run into a second head).
  const int64_t i0 = t.row0 / s.q_len == (t.row0 + t.rows - 1) / s.q_len ? t.row0 % s.q_len : 0;
  const int64_t j0 = first_key(s, i0), j_end = s.k_len - j0 < BK ? s.k_len : j0 + BK;
  for (int64_t j = j0; j < j_end; ++j) {
    for (int64_t d = 0; d < D; d += kLine) {
      V::prefetch_l2(k + j * s.k_stride_t + d);
      V::prefetch_l2(v + j * s.v_stride_t + d);
    }
  }
}

}  // namespace

// Tasks are handed out one at a time from a shared counter, because causal blocks and packed
// sequences differ in work. A thread takes its next task before it runs the current one, and
// prefetches the next one's inputs meanwhile: in a model, q, k and v are column ranges of the
// fused projection's output, so a head's rows lie thousands of bytes apart, a pattern the
// hardware prefetchers do not follow, and a large projection has streamed them out to memory.
// Measured (paired, in one process), 2 threads: the attention op on that layout, its inputs
// evicted first, 1.11-1.14x; MiniLM B=32 T=128 1.03x, B=4 1.01x. 1 thread: MiniLM B=32
// 1.03-1.05x, but the op alone 0.96-0.97x (its inputs still in L3 there).
void attention(const AttentionArgs& p) {
  int64_t tasks = 0;
  for (int64_t b = 0; b < p.batch; ++b) tasks += p.kv_heads * blocks_of(p, b);
  const size_t scratch =
      static_cast<size_t>(p.head_dim * BQ + kTileKeys * BQ + BQ * round_up(p.head_dim, W));
  const double work = static_cast<double>(p.batch) * p.heads * p.q_len * p.k_len * p.head_dim;
  std::atomic<int64_t> next{0};
  parallel_region(work >= 1e5, [&] {
    float* buffer = thread_scratch(0, scratch);
    int64_t index = next++;
    Task task = index < tasks ? task_at(p, index) : Task{};
    while (index < tasks) {
      const int64_t following = next++;
      const Task coming = following < tasks ? task_at(p, following) : Task{};
      if (following < tasks) prefetch_inputs(coming);
      attend_block(task.seq, 0, task.kv_head, task.row0, task.rows, buffer);
      index = following;
      task = coming;
    }
  });
}

}  // namespace pt::kernels::PT_ISA_NS
