#include "ops/attention.h"

#include "cpu/isa.h"

namespace pt::ops {
namespace {

// Checks offsets [B + 1] of a packed side whose t axis has `length` positions; returns the
// longest sequence.
int64_t check_offsets(const char* name, const TensorView<const int64_t>& offsets, int64_t batch,
                      const char* packed, const ConstView& t) {
  expect_shape(name, offsets, {batch + 1});
  expect_contiguous(name, offsets);
  if (t.dim(0) != 1) fail_shape(packed, "[1, heads, tokens, D] when packed", t.shape);
  int64_t longest = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t length = offsets.data[b + 1] - offsets.data[b];
    if (offsets.data[0] != 0 || length < 0)
      throw std::invalid_argument(std::string(name) + ": expected non-decreasing offsets from 0");
    longest = length > longest ? length : longest;
  }
  if (offsets.data[batch] != t.dim(2))
    throw std::invalid_argument(std::string(name) + ": the last offset " +
                                std::to_string(offsets.data[batch]) + " must equal " + packed +
                                "'s token count " + std::to_string(t.dim(2)));
  return longest;
}

}  // namespace

void attention(const ConstView& q, const ConstView& k, const ConstView& v,
               const TensorView<const uint8_t>* key_padding_mask, bool causal,
               const ConstView* bias, float scale, const MutView& out,
               const TensorView<const int64_t>* q_offsets,
               const TensorView<const int64_t>* k_offsets, int64_t sliding_window) {
  expect_rank("q", q, 4);
  expect_rank("k", k, 4);
  expect_rank("v", v, 4);
  int64_t B = q.dim(0);
  if (q_offsets) B = q_offsets->numel() - 1;
  else if (k_offsets) B = k_offsets->numel() - 1;
  if (B < 0) throw std::invalid_argument("q_offsets, k_offsets: expected at least one offset");
  const int64_t H = q.dim(1), D = q.dim(3);
  int64_t Tq = q.dim(2), Tk = k.dim(2);
  const int64_t Hkv = k.dim(1);
  if (q_offsets) Tq = check_offsets("q_offsets", *q_offsets, B, "q", q);
  else if (q.dim(0) != B) fail_shape("q", "[" + std::to_string(B) + ", H, Tq, D]", q.shape);
  if (k_offsets) Tk = check_offsets("k_offsets", *k_offsets, B, "k", k);
  else if (k.dim(0) != B) fail_shape("k", "[" + std::to_string(B) + ", Hkv, Tk, D]", k.shape);
  if (k.dim(3) != D)
    fail_shape("k", "[B, Hkv, Tk, " + std::to_string(D) + "]", k.shape);
  if (Hkv == 0 || H % Hkv != 0)
    fail_shape("k", "a head count dividing q's " + std::to_string(H) + " heads", k.shape);
  expect_shape("v", v, k.shape);
  expect_shape("out", out, q.shape);
  for (auto* t : {&q, &k, &v}) expect_unit_last_stride(t == &q ? "q" : t == &k ? "k" : "v", *t);
  expect_unit_last_stride("out", out);
  expect_disjoint("out", out, "q", q);
  expect_disjoint("out", out, "k", k);
  expect_disjoint("out", out, "v", v);

  AttentionArgs a;
  a.q = q.data;
  a.k = k.data;
  a.v = v.data;
  a.out = out.data;
  a.q_stride_b = q.stride(0), a.q_stride_h = q.stride(1), a.q_stride_t = q.stride(2);
  a.k_stride_b = k.stride(0), a.k_stride_h = k.stride(1), a.k_stride_t = k.stride(2);
  a.v_stride_b = v.stride(0), a.v_stride_h = v.stride(1), a.v_stride_t = v.stride(2);
  a.out_stride_b = out.stride(0), a.out_stride_h = out.stride(1), a.out_stride_t = out.stride(2);
  a.batch = B, a.heads = H, a.kv_heads = Hkv, a.q_len = Tq, a.k_len = Tk, a.head_dim = D;
  a.q_offsets = q_offsets ? q_offsets->data : nullptr;
  a.k_offsets = k_offsets ? k_offsets->data : nullptr;
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
    expect_shape("key_padding_mask", *key_padding_mask, {B, Tk});
    expect_unit_last_stride("key_padding_mask", *key_padding_mask);
    a.key_padding_mask = key_padding_mask->data;
    a.key_padding_stride_b = key_padding_mask->stride(0);
  }
  if (bias) {  // packed: Tq, Tk are the longest sequence's, each reads its top-left corner
    expect_shape("attn_bias", *bias, {B, H, Tq, Tk});
    expect_disjoint("out", out, "attn_bias", *bias);
    a.bias = bias->data;
    a.bias_stride_b = bias->stride(0), a.bias_stride_h = bias->stride(1);
    a.bias_stride_q = bias->stride(2), a.bias_stride_k = bias->stride(3);
  }
  if (B * H * Tq * D == 0) return;
  kernels().attention(a);
}

}  // namespace pt::ops
