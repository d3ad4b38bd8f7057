// Elementwise activations over n values, and the gated form act(gate) * up of SwiGLU/GeGLU.
#include "cpu/threading.h"
#include "kernels/activation_math.h"
#include "kernels/kernels.h"

namespace pt::kernels::PT_ISA_NS {
namespace {

using V = Vec;
constexpr int W = V::width;
// Elementwise work is cheap per value: only split across threads when there is plenty of it.
constexpr int64_t kParallelMin = 1 << 15;
constexpr int64_t kChunk = 1 << 12;  // values per parallel work item, a multiple of every W

template <Activation A>
void activation_range(const float* x, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W) V::store(out + i, activate<A>(V::load(x + i)));
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    V::store_partial(out + i, activate<A>(V::load_partial(x + i, rest)), rest);
  }
}

template <Activation A>
void gated_range(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W)
    V::store(out + i, V::mul(activate<A>(V::load(gate + i)), V::load(up + i)));
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    const auto g = activate<A>(V::load_partial(gate + i, rest));
    V::store_partial(out + i, V::mul(g, V::load_partial(up + i, rest)), rest);
  }
}

}  // namespace

void activation(const float* x, float* out, int64_t n, Activation act) {
  with_activation(act, [&](auto a) {
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    parallel_for(chunks, n >= kParallelMin, [&](int64_t c) {
      const int64_t begin = c * kChunk;
      const int64_t len = n - begin < kChunk ? n - begin : kChunk;
      activation_range<decltype(a)::value>(x + begin, out + begin, len);
    });
  });
}

void gated_activation(const float* gate, const float* up, float* out, int64_t n, Activation act) {
  with_activation(act, [&](auto a) {
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    parallel_for(chunks, n >= kParallelMin, [&](int64_t c) {
      const int64_t begin = c * kChunk;
      const int64_t len = n - begin < kChunk ? n - begin : kChunk;
      gated_range<decltype(a)::value>(gate + begin, up + begin, out + begin, len);
    });
  });
}

}  // namespace pt::kernels::PT_ISA_NS
