// Fused scaled-dot-product attention on the GPU, with the CPU op's semantics exactly
// (ops/attention.h, kernels/attention.cpp): out = softmax(q k^T * scale + bias, masked) v.
// B = batch, H = query heads, Hkv = key/value heads, G = H / Hkv, Tq/Tk = query/key positions,
// D = head dim (<= 256). Shapes, strides and the packed-sequence layout: kernels/attention_args.h.
//
// Flash-attention style, one pass over K and V with an online softmax, fp32 throughout; no
// [Tq, Tk] matrix exists anywhere. As on the CPU, a kv head's rows are its G heads' queries
// flattened (row = g * Tq + i), so grouped-query heads share every K/V tile.
// One block = (sequence b, kv head, kBlockRows rows), 4 warps of kRowsPerWarp rows each:
//   q_s = q * scale for the block's rows                            [kBlockRows, D] shared
//   for each tile of 32 keys from the block's first visible key (sliding windows) to its last
//   (causal tiles past it skipped):
//     K, V tile -> shared (every warp reuses it for its rows)       [32, D] each
//     lane j scores key j against each of the warp's rows; masked keys get -inf
//     online softmax: warp max and warp sum over the lanes = keys; p_j stays in lane j
//     acc = acc * alpha + sum_j p_j V[j]   lane owns d = lane + 32 c, p_j broadcast by shuffle
//   out = acc / l, zeros where l = 0 (a query that saw no key, as on the CPU)
#include <cmath>
#include <utility>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/device.h"
#include "cuda/ops.h"
#include "kernels/attention_args.h"

namespace pt::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * kWarp;
constexpr int kRowsPerWarp = 2;
constexpr int kBlockRows = kWarps * kRowsPerWarp;
constexpr int kTileKeys = kWarp;  // lane j scores key j of the tile
constexpr int kMaxHeadDim = 256;

// Shared memory: q_s [kBlockRows][D], k_s [kTileKeys][D | 1], v_s [kTileKeys][D]. K rows are
// read lane-per-key, so their pitch is odd: lane j's address j * pitch + d then falls in a
// different bank for every lane. V and q are read along d (or broadcast) and need no padding.
int64_t k_pitch(int64_t D) { return D | 1; }

size_t shared_bytes(int64_t D) {
  return static_cast<size_t>(kBlockRows * D + kTileKeys * k_pitch(D) + kTileKeys * D) *
         sizeof(float);
}

// D <= 32 * kChunks: each lane accumulates kChunks output columns per row.
template <int kChunks>
__global__ void __launch_bounds__(kThreads)
    attention_kernel(AttentionArgs p, int64_t row_blocks) {
  extern __shared__ float smem[];
  const int D = static_cast<int>(p.head_dim);
  const int pitch = D | 1;
  float* q_s = smem;
  float* k_s = q_s + kBlockRows * D;
  float* v_s = k_s + kTileKeys * pitch;
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;

  // This block's (b, kv head, row block), and sequence b's own pointers and lengths.
  const int64_t row_block = blockIdx.x % row_blocks;
  const int64_t kvh = blockIdx.x / row_blocks % p.kv_heads;
  const int64_t b = blockIdx.x / row_blocks / p.kv_heads;
  int64_t q_len = p.q_len, k_len = p.k_len;
  const float* q = p.q;
  float* out = p.out;
  if (p.q_offsets) {
    q_len = p.q_offsets[b + 1] - p.q_offsets[b];
    q += p.q_offsets[b] * p.q_stride_t;
    out += p.q_offsets[b] * p.out_stride_t;
  } else {
    q += b * p.q_stride_b;
    out += b * p.out_stride_b;
  }
  const float* k = p.k + kvh * p.k_stride_h;
  const float* v = p.v + kvh * p.v_stride_h;
  if (p.k_offsets) {
    k_len = p.k_offsets[b + 1] - p.k_offsets[b];
    k += p.k_offsets[b] * p.k_stride_t;
    v += p.k_offsets[b] * p.v_stride_t;
  } else {
    k += b * p.k_stride_b;
    v += b * p.v_stride_b;
  }
  const int64_t G = p.heads / p.kv_heads;
  const int64_t rows = G * q_len, row0 = row_block * kBlockRows;
  if (row0 >= rows) return;  // the whole block: past a short packed sequence's rows
  const uint8_t* pad =
      p.key_padding_mask ? p.key_padding_mask + b * p.key_padding_stride_b : nullptr;
  const int64_t shift = k_len - q_len;  // causal: query i sees keys j <= i + shift
  // Query i's first visible key: its sliding window's start, or 0.
  auto first_key = [&](int64_t i) {
    const int64_t first = i + shift - p.sliding_window + 1;
    return p.sliding_window && first > 0 ? first : int64_t{0};
  };

  // Keys [key_begin, key_end) are visible to some row of the block; other tiles are never
  // loaded.
  int64_t key_begin = k_len, key_end = 0;
  for (int r = 0; r < kBlockRows && row0 + r < rows; ++r) {
    const int64_t i = (row0 + r) % q_len;
    const int64_t last = p.causal ? i + shift : k_len - 1;
    key_end = last + 1 > key_end ? last + 1 : key_end;
    key_begin = first_key(i) < key_begin ? first_key(i) : key_begin;
  }
  key_end = key_end < k_len ? key_end : k_len;

  // Stage the block's queries, pre-scaled as the CPU kernel does; zeros past the last row.
  for (int x = threadIdx.x; x < kBlockRows * D; x += kThreads) {
    const int64_t row = row0 + x / D;
    float value = 0.0f;
    if (row < rows) {
      const int64_t h = kvh * G + row / q_len, i = row % q_len;
      value = q[h * p.q_stride_h + i * p.q_stride_t + x % D] * p.scale;
    }
    q_s[x] = value;
  }

  // This warp's rows: the keys each may see, [first, last] (last = -1 for rows past the end:
  // they see nothing and write nothing), where its output goes, its bias row.
  int64_t first[kRowsPerWarp], last[kRowsPerWarp];
  float* out_row[kRowsPerWarp];
  const float* bias_row[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t row = row0 + warp * kRowsPerWarp + r;
    first[r] = 0;
    last[r] = -1;
    out_row[r] = nullptr;
    bias_row[r] = nullptr;
    if (row < rows) {
      const int64_t h = kvh * G + row / q_len, i = row % q_len;
      first[r] = first_key(i);
      last[r] = p.causal ? i + shift : k_len - 1;
      out_row[r] = out + h * p.out_stride_h + i * p.out_stride_t;
      if (p.bias)
        bias_row[r] = p.bias + b * p.bias_stride_b + h * p.bias_stride_h + i * p.bias_stride_q;
    }
  }

  float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][kChunks];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) acc[r][c] = 0.0f;
  }

  for (int64_t tile0 = key_begin; tile0 < key_end; tile0 += kTileKeys) {
    const int nk = static_cast<int>(key_end - tile0 < kTileKeys ? key_end - tile0 : kTileKeys);
    __syncthreads();  // every warp is done with the previous tile (first time: q_s is staged)
    for (int x = threadIdx.x; x < nk * D; x += kThreads) {
      const int j = x / D, d = x % D;
      k_s[j * pitch + d] = k[(tile0 + j) * p.k_stride_t + d];
      v_s[x] = v[(tile0 + j) * p.v_stride_t + d];
    }
    __syncthreads();

    // Scores of key tile0 + lane against this warp's rows.
    const int64_t key = tile0 + lane;
    const bool in_tile = lane < nk;
    const bool not_padding = in_tile && (!pad || !pad[key]);
    float s[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) s[r] = 0.0f;
    if (in_tile) {
      const float* k_row = k_s + lane * pitch;
      const float* q_row = q_s + warp * kRowsPerWarp * D;
#pragma unroll 4
      for (int d = 0; d < D; ++d) {
        const float kd = k_row[d];
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) s[r] = fmaf(q_row[r * D + d], kd, s[r]);
      }
    }

    // Online softmax per row. A row that has seen only hidden keys keeps m = -inf; its exps are
    // taken against 0 so they are exact zeros, not exp(-inf + inf) = NaN (as on the CPU).
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const bool visible = not_padding && first[r] <= key && key <= last[r];
      float score = -INFINITY;
      if (visible) score = bias_row[r] ? s[r] + bias_row[r][key * p.bias_stride_k] : s[r];
      const float m_new = fmaxf(m[r], warp_max(score));
      const float m_use = m_new == -INFINITY ? 0.0f : m_new;
      const float prob = expf(score - m_use);
      const float alpha = expf(m[r] - m_use);
      l[r] = l[r] * alpha + warp_sum(prob);
      m[r] = m_new;
#pragma unroll
      for (int c = 0; c < kChunks; ++c) acc[r][c] *= alpha;
      s[r] = prob;
    }

    // acc[r][c] += sum_j p_j V[j][lane + 32 c]; p_j lives in lane j.
    for (int j = 0; j < nk; ++j) {
      float pj[kRowsPerWarp];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) pj[r] = __shfl_sync(kFullMask, s[r], j);
      const float* v_row = v_s + j * D;
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        const int d = lane + c * kWarp;
        if (d < D) {
          const float vd = v_row[d];
#pragma unroll
          for (int r = 0; r < kRowsPerWarp; ++r) acc[r][c] = fmaf(pj[r], vd, acc[r][c]);
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    if (!out_row[r]) continue;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int d = lane + c * kWarp;
      if (d < D) out_row[r][d] = acc[r][c] * inv;
    }
  }
}

template <int kChunks>
void launch(const AttentionArgs& a, int64_t row_blocks, int64_t blocks) {
  const size_t smem = shared_bytes(a.head_dim);
  if (smem > 48 * 1024)  // above the default limit a kernel must opt in
    check(cudaFuncSetAttribute(attention_kernel<kChunks>,
                               cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(smem)),
          "attention: cudaFuncSetAttribute");
  attention_kernel<kChunks><<<static_cast<unsigned>(blocks), kThreads, smem>>>(a, row_blocks);
  check_launch("attention");
}

// The offsets [B + 1] of a packed side whose t axis has `tokens` positions, checked as the CPU
// op checks them; returns the longest sequence. Reads them back to the host (a small
// synchronous copy): the checks and the grid size need them.
int64_t check_offsets(const char* name, const DeviceView& offsets, int64_t batch,
                      const char* packed, const DeviceView& t) {
  expect_dtype(name, offsets, DType::int64);
  expect_shape(name, offsets, {batch + 1});
  expect_contiguous(name, offsets);
  if (t.dim(0) != 1) fail_shape(packed, "[1, heads, tokens, D] when packed", t.shape);
  std::vector<int64_t> host(batch + 1);
  check(cudaMemcpy(host.data(), offsets.ptr, host.size() * sizeof(int64_t),
                   cudaMemcpyDeviceToHost),
        (std::string(name) + ": copy to the host").c_str());
  int64_t longest = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t length = host[b + 1] - host[b];
    if (host[0] != 0 || length < 0)
      throw std::invalid_argument(std::string(name) + ": expected non-decreasing offsets from 0");
    longest = length > longest ? length : longest;
  }
  if (host[batch] != t.dim(2))
    throw std::invalid_argument(std::string(name) + ": the last offset " +
                                std::to_string(host[batch]) + " must equal " + packed +
                                "'s token count " + std::to_string(t.dim(2)));
  return longest;
}

}  // namespace

void attention(const DeviceView& out, const DeviceView& q, const DeviceView& k,
               const DeviceView& v, const DeviceView* key_padding_mask, bool causal,
               const DeviceView* bias, float scale, const DeviceView* q_offsets,
               const DeviceView* k_offsets, int64_t sliding_window) {
  for (const auto& [name, t] : {std::pair<const char*, const DeviceView*>{"q", &q},
                                {"k", &k}, {"v", &v}, {"out", &out}}) {
    expect_rank(name, *t, 4);
    expect_dtype(name, *t, DType::float32);
  }
  int64_t B = q.dim(0);
  if (q_offsets) B = q_offsets->numel() - 1;
  else if (k_offsets) B = k_offsets->numel() - 1;
  if (B < 0) throw std::invalid_argument("q_offsets, k_offsets: expected at least one offset");
  const int64_t H = q.dim(1), D = q.dim(3), Hkv = k.dim(1);
  int64_t Tq = q.dim(2), Tk = k.dim(2);
  if (q_offsets) Tq = check_offsets("q_offsets", *q_offsets, B, "q", q);
  else if (q.dim(0) != B) fail_shape("q", "[" + std::to_string(B) + ", H, Tq, D]", q.shape);
  if (k_offsets) Tk = check_offsets("k_offsets", *k_offsets, B, "k", k);
  else if (k.dim(0) != B) fail_shape("k", "[" + std::to_string(B) + ", Hkv, Tk, D]", k.shape);
  if (k.dim(3) != D) fail_shape("k", "[B, Hkv, Tk, " + std::to_string(D) + "]", k.shape);
  if (Hkv == 0 || H % Hkv != 0)
    fail_shape("k", "a head count dividing q's " + std::to_string(H) + " heads", k.shape);
  expect_shape("v", v, k.shape);
  expect_shape("out", out, q.shape);
  for (const auto& [name, t] : {std::pair<const char*, const DeviceView*>{"q", &q},
                                {"k", &k}, {"v", &v}, {"out", &out}})
    expect_unit_last_stride(name, *t);

  AttentionArgs a;
  a.q = static_cast<const float*>(q.ptr);
  a.k = static_cast<const float*>(k.ptr);
  a.v = static_cast<const float*>(v.ptr);
  a.out = static_cast<float*>(out.ptr);
  a.q_stride_b = q.stride(0), a.q_stride_h = q.stride(1), a.q_stride_t = q.stride(2);
  a.k_stride_b = k.stride(0), a.k_stride_h = k.stride(1), a.k_stride_t = k.stride(2);
  a.v_stride_b = v.stride(0), a.v_stride_h = v.stride(1), a.v_stride_t = v.stride(2);
  a.out_stride_b = out.stride(0), a.out_stride_h = out.stride(1), a.out_stride_t = out.stride(2);
  a.batch = B, a.heads = H, a.kv_heads = Hkv, a.q_len = Tq, a.k_len = Tk, a.head_dim = D;
  a.q_offsets = q_offsets ? static_cast<const int64_t*>(q_offsets->ptr) : nullptr;
  a.k_offsets = k_offsets ? static_cast<const int64_t*>(k_offsets->ptr) : nullptr;
  a.scale = scale;
  a.causal = causal;
  if (sliding_window < 0 || (sliding_window > 0 && !causal))
    throw std::invalid_argument("sliding_window: expected 0 (none) or a positive key count with "
                                "causal attention, got " + std::to_string(sliding_window) +
                                (causal ? "" : " without causal"));
  a.sliding_window = sliding_window;
  if (key_padding_mask) {
    if (k_offsets)
      throw std::invalid_argument("key_padding_mask: packed keys (k_offsets) have no padding");
    expect_dtype("key_padding_mask", *key_padding_mask, DType::uint8);
    expect_shape("key_padding_mask", *key_padding_mask, {B, Tk});
    expect_unit_last_stride("key_padding_mask", *key_padding_mask);
    a.key_padding_mask = static_cast<const uint8_t*>(key_padding_mask->ptr);
    a.key_padding_stride_b = key_padding_mask->stride(0);
  }
  if (bias) {  // packed: Tq, Tk are the longest sequence's, each reads its top-left corner
    expect_dtype("bias", *bias, DType::float32);
    expect_shape("bias", *bias, {B, H, Tq, Tk});
    a.bias = static_cast<const float*>(bias->ptr);
    a.bias_stride_b = bias->stride(0), a.bias_stride_h = bias->stride(1);
    a.bias_stride_q = bias->stride(2), a.bias_stride_k = bias->stride(3);
  }
  if (B * H * Tq * D == 0) return;
  if (D > kMaxHeadDim)
    throw std::invalid_argument("q: head dimension " + std::to_string(D) +
                                " exceeds the CUDA kernel's maximum of " +
                                std::to_string(kMaxHeadDim));

  const int64_t row_blocks = ceil_div(H / Hkv * Tq, kBlockRows);
  const int64_t blocks = B * Hkv * row_blocks;
  if (blocks > 0x7fffffff)
    throw std::invalid_argument("q: too many (batch, head, query) blocks for one launch, shape " +
                                shape_str(q.shape));
  if (D <= 2 * kWarp) launch<2>(a, row_blocks, blocks);
  else if (D <= 4 * kWarp) launch<4>(a, row_blocks, blocks);
  else launch<8>(a, row_blocks, blocks);
}

}  // namespace pt::cuda
