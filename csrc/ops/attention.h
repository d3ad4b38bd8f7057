#pragma once
#include "ops/tensor.h"

namespace pt::ops {

// Scaled dot-product attention over views whose last dimension is contiguous (other strides
// free, so transposed [B, T, H, D] projections need no copy).
//   q: [B, H, Tq, D]; k, v: [B, Hkv, Tk, D] with H % Hkv == 0; out: [B, H, Tq, D].
//   key_padding_mask: [B, Tk], nonzero = ignore the key. bias: [B, H, Tq, Tk] view, broadcast
//   dimensions given stride 0. causal: query i sees keys j <= i + Tk - Tq.
// A query that sees no key gets zeros.
void attention(const ConstView& q, const ConstView& k, const ConstView& v,
               const TensorView<const uint8_t>* key_padding_mask, bool causal,
               const ConstView* bias, float scale, const MutView& out);

}  // namespace pt::ops
