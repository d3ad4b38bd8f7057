// Everything the fused attention kernel needs, as raw pointers and element strides, so that
// callers can hand it views (a [B, T, 3, H, D] QKV projection, a KV cache longer than Tk)
// without copying. The last (head) dimension D is always contiguous.
//
// B = batch, H = query heads, Hkv = key/value heads (H % Hkv == 0), Tq = queries, Tk = keys.
#pragma once
#include <cstdint>

namespace pt {

struct AttentionArgs {
  const float* q = nullptr;  // [B, H, Tq, D] with strides q_stride_{b,h,t}
  const float* k = nullptr;  // [B, Hkv, Tk, D]
  const float* v = nullptr;  // [B, Hkv, Tk, D]
  float* out = nullptr;      // [B, H, Tq, D]
  int64_t q_stride_b = 0, q_stride_h = 0, q_stride_t = 0;
  int64_t k_stride_b = 0, k_stride_h = 0, k_stride_t = 0;
  int64_t v_stride_b = 0, v_stride_h = 0, v_stride_t = 0;
  int64_t out_stride_b = 0, out_stride_h = 0, out_stride_t = 0;
  int64_t batch = 0, heads = 0, kv_heads = 0, q_len = 0, k_len = 0, head_dim = 0;
  float scale = 1.0f;

  // Optional [B, Tk] key padding mask, nonzero = ignore that key (nn.MultiheadAttention).
  const uint8_t* key_padding_mask = nullptr;
  int64_t key_padding_stride_b = 0;

  // Query i may see key j only when j <= i + (Tk - Tq): the last query aligns with the last
  // key, which is what a decoder step over a KV cache needs.
  bool causal = false;
  // With causal, an optional sliding window (Mistral): query i sees only the sliding_window
  // keys ending at its last visible one, i + (Tk - Tq) - sliding_window < j <= i + (Tk - Tq).
  // 0 = every earlier key.
  int64_t sliding_window = 0;

  // Optional packed (padding-free) sequences. With q_offsets ([B + 1], non-decreasing, from 0),
  // sequence b's queries are positions [q_offsets[b], q_offsets[b + 1]) of the t axis of q and
  // out (whose b stride is then ignored), and its length replaces q_len, causal alignment
  // included; k_offsets likewise for k and v. Either side may be packed alone (cross-attention
  // of padded decoder queries over a packed encoder output).
  const int64_t* q_offsets = nullptr;
  const int64_t* k_offsets = nullptr;

  // Optional additive bias broadcast to [B, H, Tq, Tk] through its strides (0 = broadcast).
  // The key dimension may also be broadcast (bias_stride_k = 0).
  const float* bias = nullptr;
  int64_t bias_stride_b = 0, bias_stride_h = 0, bias_stride_q = 0, bias_stride_k = 0;
};

}  // namespace pt
