#pragma once
#include "ops/tensor.h"

namespace pt::ops {

// Scaled dot-product attention over views whose last dimension is contiguous (other strides
// free, so transposed [B, T, H, D] projections need no copy).
//   q: [B, H, Tq, D]; k, v: [B, Hkv, Tk, D] with H % Hkv == 0; out: [B, H, Tq, D].
//   key_padding_mask: [B, Tk], nonzero = ignore the key. bias: [B, H, Tq, Tk] view, broadcast
//   dimensions given stride 0. causal: query i sees keys j <= i + Tk - Tq. sliding_window > 0
//   (with causal only): and only the sliding_window keys ending there, j > i + Tk - Tq -
//   sliding_window.
// A query that sees no key gets zeros.
// Packed (padding-free) sequences: with q_offsets [B + 1], q and out are [1, H, Nq, D] holding
// every sequence's queries back to back, sequence b at [q_offsets[b], q_offsets[b + 1]); with
// k_offsets [B + 1], k and v are [1, Hkv, Nk, D] likewise. B then comes from the offsets; a
// bias is then [B, H, Tq, Tk] for the longest sequences, and sequence b reads the first q and
// k positions of its slice (the relative position bias of T5 is the same for every sequence).
void attention(const ConstView& q, const ConstView& k, const ConstView& v,
               const TensorView<const uint8_t>* key_padding_mask, bool causal,
               const ConstView* bias, float scale, const MutView& out,
               const TensorView<const int64_t>* q_offsets = nullptr,
               const TensorView<const int64_t>* k_offsets = nullptr,
               int64_t sliding_window = 0);

}  // namespace pt::ops
