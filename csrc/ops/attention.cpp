#include "ops/attention.h"

#include "cpu/isa.h"

namespace pt::ops {
namespace {

template <class T>
void expect_unit_last_stride(const char* name, const TensorView<T>& t) {
  if (t.dim(-1) > 1 && t.stride(-1) != 1)
    throw std::invalid_argument(std::string(name) + ": the last axis must be contiguous");
}

}  // namespace

void attention(const ConstView& q, const ConstView& k, const ConstView& v,
               const TensorView<const uint8_t>* key_padding_mask, bool causal,
               const ConstView* bias, float scale, const MutView& out) {
  expect_rank("q", q, 4);
  expect_rank("k", k, 4);
  expect_rank("v", v, 4);
  const int64_t B = q.dim(0), H = q.dim(1), Tq = q.dim(2), D = q.dim(3);
  const int64_t Hkv = k.dim(1), Tk = k.dim(2);
  if (k.dim(0) != B || k.dim(3) != D)
    fail_shape("k", "[" + std::to_string(B) + ", Hkv, Tk, " + std::to_string(D) + "]", k.shape);
  if (Hkv == 0 || H % Hkv != 0)
    fail_shape("k", "a head count dividing q's " + std::to_string(H) + " heads", k.shape);
  expect_shape("v", v, k.shape);
  expect_shape("out", out, q.shape);
  for (auto* t : {&q, &k, &v}) expect_unit_last_stride(t == &q ? "q" : t == &k ? "k" : "v", *t);
  expect_unit_last_stride("out", out);

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
  a.scale = scale;
  a.causal = causal;
  if (key_padding_mask) {
    expect_shape("key_padding_mask", *key_padding_mask, {B, Tk});
    expect_unit_last_stride("key_padding_mask", *key_padding_mask);
    a.key_padding_mask = key_padding_mask->data;
    a.key_padding_stride_b = key_padding_mask->stride(0);
  }
  if (bias) {
    expect_shape("attn_bias", *bias, {B, H, Tq, Tk});
    a.bias = bias->data;
    a.bias_stride_b = bias->stride(0), a.bias_stride_h = bias->stride(1);
    a.bias_stride_q = bias->stride(2), a.bias_stride_k = bias->stride(3);
  }
  if (B * H * Tq * D == 0) return;
  kernels().attention(a);
}

}  // namespace pt::ops
