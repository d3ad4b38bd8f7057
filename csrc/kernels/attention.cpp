// Fused scaled-dot-product attention: out = softmax(q k^T * scale + bias, masked) v.
// B = batch, H = query heads, Hkv = key/value heads, Tq/Tk = query/key positions, D = head dim.
// Shapes and strides are in attention_args.h. Masks are applied here, key by key: no mask or
// score tensor of [B, H, Tq, Tk] is ever materialised. A query with no visible key gets zeros.
#include <cmath>

#include "cpu/threading.h"
#include "kernels/kernels.h"

namespace pt::kernels::PT_ISA_NS {
namespace {

using V = Vec;
constexpr int W = V::width;

float dot(const float* x, const float* y, int64_t D) {
  auto acc = V::zero();
  for (int64_t d = 0; d < D; d += W) {
    const int n = static_cast<int>(D - d < W ? D - d : W);
    acc = V::fma(V::load_partial(x + d, n), V::load_partial(y + d, n), acc);
  }
  return V::reduce_add(acc);
}

// One query row against all its keys; scores is scratch of Tk floats.
void attend_row(const AttentionArgs& p, int64_t b, int64_t h, int64_t i, float* scores) {
  const int64_t kv_h = h / (p.heads / p.kv_heads);
  const float* q = p.q + b * p.q_stride_b + h * p.q_stride_h + i * p.q_stride_t;
  const float* k = p.k + b * p.k_stride_b + kv_h * p.k_stride_h;
  const float* v = p.v + b * p.v_stride_b + kv_h * p.v_stride_h;
  float* out = p.out + b * p.out_stride_b + h * p.out_stride_h + i * p.out_stride_t;
  const int64_t D = p.head_dim;
  const uint8_t* pad = p.key_padding_mask ? p.key_padding_mask + b * p.key_padding_stride_b : nullptr;
  const float* bias =
      p.bias ? p.bias + b * p.bias_stride_b + h * p.bias_stride_h + i * p.bias_stride_q : nullptr;
  // Keys past this one are hidden from query i when causal.
  const int64_t last_key = p.causal ? i + (p.k_len - p.q_len) : p.k_len - 1;

  float row_max = -INFINITY;
  for (int64_t j = 0; j < p.k_len; ++j) {
    if (j > last_key || (pad && pad[j])) {
      scores[j] = -INFINITY;
      continue;
    }
    float s = dot(q, k + j * p.k_stride_t, D) * p.scale;
    if (bias) s += bias[j * p.bias_stride_k];
    scores[j] = s;
    row_max = s > row_max ? s : row_max;
  }

  for (int64_t d = 0; d < D; d += W) {
    const int n = static_cast<int>(D - d < W ? D - d : W);
    V::store_partial(out + d, V::zero(), n);
  }
  // No visible key (or only -inf biases): the output stays zero rather than NaN.
  if (row_max == -INFINITY) return;

  float sum = 0.0f;
  for (int64_t j = 0; j < p.k_len; ++j) {
    if (scores[j] == -INFINITY) continue;
    const float e = std::exp(scores[j] - row_max);
    sum += e;
    const auto weight = V::set1(e);
    const float* vj = v + j * p.v_stride_t;
    for (int64_t d = 0; d < D; d += W) {
      const int n = static_cast<int>(D - d < W ? D - d : W);
      V::store_partial(out + d, V::fma(weight, V::load_partial(vj + d, n), V::load_partial(out + d, n)), n);
    }
  }
  const auto inv = V::set1(1.0f / sum);
  for (int64_t d = 0; d < D; d += W) {
    const int n = static_cast<int>(D - d < W ? D - d : W);
    V::store_partial(out + d, V::mul(V::load_partial(out + d, n), inv), n);
  }
}

}  // namespace

void attention(const AttentionArgs& p) {
  const int64_t rows = p.batch * p.heads * p.q_len;
  const double work = static_cast<double>(rows) * p.k_len * p.head_dim;
#pragma omp parallel for num_threads(num_threads()) if (work >= 1e5) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = r % p.q_len;
    const int64_t h = (r / p.q_len) % p.heads;
    const int64_t b = r / (p.q_len * p.heads);
    attend_row(p, b, h, i, thread_scratch(0, p.k_len));
  }
}

}  // namespace pt::kernels::PT_ISA_NS
