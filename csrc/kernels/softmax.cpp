// Softmax over the last dimension: rows x C, computed as exp(x - max) / sum in three sweeps of
// a row (max; exp and sum, written to out; scale), the row staying in L1 between them.
// A row that is all -inf gives NaN, as in PyTorch and NumPy.
#include "cpu/threading.h"
#include "kernels/kernels.h"

namespace pt::kernels::PT_ISA_NS {
namespace {

using V = Vec;
constexpr int W = V::width;
constexpr int64_t kParallelMin = 1 << 14;

void softmax_row(const float* x, float* out, int64_t C) {
  auto vmax = V::set1(-__builtin_inff());
  int64_t c = 0;
  for (; c + W <= C; c += W) vmax = V::max(vmax, V::load(x + c));
  float row_max = V::reduce_max(vmax);
  for (; c < C; ++c) row_max = x[c] > row_max ? x[c] : row_max;

  const auto m = V::set1(row_max);
  auto vsum = V::zero();
  for (c = 0; c + W <= C; c += W) {
    const auto e = exp<V>(V::sub(V::load(x + c), m));
    V::store(out + c, e);
    vsum = V::add(vsum, e);
  }
  if (c < C) {
    const int n = static_cast<int>(C - c);
    const auto e = V::keep_first(exp<V>(V::sub(V::load_partial(x + c, n), m)), n);
    V::store_partial(out + c, e, n);
    vsum = V::add(vsum, e);
  }

  const auto inv = V::set1(1.0f / V::reduce_add(vsum));
  for (c = 0; c + W <= C; c += W) V::store(out + c, V::mul(V::load(out + c), inv));
  if (c < C) {
    const int n = static_cast<int>(C - c);
    V::store_partial(out + c, V::mul(V::load_partial(out + c, n), inv), n);
  }
}

}  // namespace

void softmax(const float* x, float* out, int64_t rows, int64_t C) {
  parallel_for(rows, rows * C >= kParallelMin,
               [&](int64_t r) { softmax_row(x + r * C, out + r * C, C); });
}

}  // namespace pt::kernels::PT_ISA_NS
