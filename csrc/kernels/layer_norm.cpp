// LayerNorm and RMSNorm over the last dimension, with the residual add fused in.
// rows = tokens, C = channels. x, residual, out, sum_out: [rows, C]; gamma, beta: [C].
//
// Each row is first summed (x + residual) into a buffer (sum_out, or out itself) while
// accumulating the mean; the buffer is then read twice more while it sits in L1: the variance is
// taken around the mean (two-pass, so rows with a large mean keep their precision, unlike
// E[x^2] - E[x]^2), then the row is normalised. The mean itself is summed around the row's first
// value (a shifted sum), so that a row of large values with a small spread is not rounded away
// in the accumulator (which matters most for the one-lane scalar path).
#include <cmath>

#include "cpu/threading.h"
#include "kernels/kernels.h"

namespace pt::kernels::PT_ISA_NS {
namespace {

using V = Vec;
constexpr int W = V::width;

// s = x + residual (or x); returns sum(s - shift), or sum(s^2) when squares.
float add_residual(const float* x, const float* residual, float* s, int64_t C, float shift,
                   bool squares) {
  const auto m = V::set1(shift);
  auto acc = V::zero();
  for (int64_t c = 0; c < C; c += W) {
    const int n = static_cast<int>(C - c < W ? C - c : W);
    auto v = V::load_partial(x + c, n);
    if (residual) v = V::add(v, V::load_partial(residual + c, n));
    V::store_partial(s + c, v, n);
    acc = squares ? V::fma(v, v, acc) : V::add(acc, V::keep_first(V::sub(v, m), n));
  }
  return V::reduce_add(acc);
}

// sum((s - mean)^2)
float centered_sum_squares(const float* s, float mean, int64_t C) {
  const auto m = V::set1(mean);
  auto acc = V::zero();
  int64_t c = 0;
  for (; c + W <= C; c += W) {
    const auto d = V::sub(V::load(s + c), m);
    acc = V::fma(d, d, acc);
  }
  if (c < C) {
    const int n = static_cast<int>(C - c);
    const auto d = V::keep_first(V::sub(V::load_partial(s + c, n), m), n);
    acc = V::fma(d, d, acc);
  }
  return V::reduce_add(acc);
}

// out = (s - shift) * inv_std * gamma + beta  (beta may be null)
void scale_shift(const float* s, float shift, float inv_std, const float* gamma,
                 const float* beta, float* out, int64_t C) {
  const auto m = V::set1(shift);
  const auto r = V::set1(inv_std);
  for (int64_t c = 0; c < C; c += W) {
    const int n = static_cast<int>(C - c < W ? C - c : W);
    auto y = V::mul(V::mul(V::sub(V::load_partial(s + c, n), m), r), V::load_partial(gamma + c, n));
    if (beta) y = V::add(y, V::load_partial(beta + c, n));
    V::store_partial(out + c, y, n);
  }
}

// Rows are independent; below this many values a parallel region costs more than it saves.
constexpr int64_t kParallelMin = 1 << 14;

}  // namespace

void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta,
                float* out, float* sum_out, int64_t rows, int64_t C, float eps) {
  parallel_for(rows, rows * C >= kParallelMin, [&](int64_t r) {
    float* s = sum_out ? sum_out + r * C : out + r * C;
    const float* res = residual ? residual + r * C : nullptr;
    const float shift = x[r * C] + (res ? res[0] : 0.0f);
    const float mean = shift + add_residual(x + r * C, res, s, C, shift, false) / static_cast<float>(C);
    const float var = centered_sum_squares(s, mean, C) / static_cast<float>(C);
    scale_shift(s, mean, 1.0f / std::sqrt(var + eps), gamma, beta, out + r * C, C);
  });
}

void rms_norm(const float* x, const float* residual, const float* gamma, float* out,
              float* sum_out, int64_t rows, int64_t C, float eps) {
  parallel_for(rows, rows * C >= kParallelMin, [&](int64_t r) {
    float* s = sum_out ? sum_out + r * C : out + r * C;
    const float mean_square =
        add_residual(x + r * C, residual ? residual + r * C : nullptr, s, C, 0.0f, true) /
        static_cast<float>(C);
    scale_shift(s, 0.0f, 1.0f / std::sqrt(mean_square + eps), gamma, nullptr, out + r * C, C);
  });
}

}  // namespace pt::kernels::PT_ISA_NS
