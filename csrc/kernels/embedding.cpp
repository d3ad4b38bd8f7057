// Token embedding lookup: out[i, :] = table[ids[i], :] * scale, for n ids over C channels.
// ids were checked against the vocabulary by the op front, so every row read is in bounds.
#include "cpu/threading.h"
#include "kernels/kernels.h"

namespace pt::kernels::PT_ISA_NS {

void embedding(const int64_t* ids, const float* table, float* out, int64_t n, int64_t C,
               float scale) {
  using V = Vec;
  constexpr int W = V::width;
  const auto s = V::set1(scale);
  parallel_for(n, n * C >= (1 << 15), [&](int64_t i) {
    const float* row = table + ids[i] * C;
    float* dst = out + i * C;
    for (int64_t c = 0; c < C; c += W) {
      const int rest = static_cast<int>(C - c < W ? C - c : W);
      V::store_partial(dst + c, V::mul(V::load_partial(row + c, rest), s), rest);
    }
  });
}

}  // namespace pt::kernels::PT_ISA_NS
