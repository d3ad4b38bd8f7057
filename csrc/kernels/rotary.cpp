// Rotary position embedding (RoFormer), in the rotate-half layout of Hugging Face LLaMA:
// channel i and channel i + R/2 form one 2-D pair rotated by the angle pos * base^(-2i/R), for
// the first R = rotary_dim channels of each head (R = D but for partial rotary, GPT-NeoX and
// Phi, whose channels from R on pass through unrotated).
// x, out: [B, H, T, D]; positions: [B, T] (positions_stride_b = 0 shares one row over the batch).
//
// The angles are computed as the reference does it in float32 (inverse frequency, then
// pos * inv_freq rounded to float), so long positions agree with it to the ulp of the angle;
// cos and sin of that float angle are then taken in double, once per (b, t) for all heads.
#include <cmath>

#include "cpu/threading.h"
#include "kernels/kernels.h"

namespace pt::kernels::PT_ISA_NS {

void rotary(const float* x, int64_t x_stride_b, int64_t x_stride_h, int64_t x_stride_t,
            const int64_t* positions, float* out, int64_t B, int64_t H, int64_t T, int64_t D,
            int64_t R, int64_t positions_stride_b, float base) {
  using V = Vec;
  constexpr int W = V::width;
  const int64_t half = R / 2;
  parallel_for(B * T, B * H * T * D >= (1 << 15), [&](int64_t bt) {
    const int64_t b = bt / T, t = bt % T;
    float* cos_sin = thread_scratch(0, 2 * half);
    float* cos_t = cos_sin;
    float* sin_t = cos_sin + half;
    const float pos = static_cast<float>(positions[b * positions_stride_b + t]);
    for (int64_t i = 0; i < half; ++i) {
      const float inv_freq =
          1.0f / std::pow(base, static_cast<float>(2 * i) / static_cast<float>(R));
      const float angle = pos * inv_freq;
      cos_t[i] = static_cast<float>(std::cos(static_cast<double>(angle)));
      sin_t[i] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
    for (int64_t h = 0; h < H; ++h) {
      const float* x1 = x + b * x_stride_b + h * x_stride_h + t * x_stride_t;
      const float* x2 = x1 + half;
      float* o1 = out + ((b * H + h) * T + t) * D;
      float* o2 = o1 + half;
      for (int64_t i = 0; i < half; i += W) {
        const int n = static_cast<int>(half - i < W ? half - i : W);
        const auto a = V::load_partial(x1 + i, n);
        const auto b2 = V::load_partial(x2 + i, n);
        const auto c = V::load_partial(cos_t + i, n);
        const auto s = V::load_partial(sin_t + i, n);
        // (a, b2) -> (a cos - b2 sin, b2 cos + a sin); loads precede stores so out may alias x.
        V::store_partial(o1 + i, V::sub(V::mul(a, c), V::mul(b2, s)), n);
        V::store_partial(o2 + i, V::fma(a, s, V::mul(b2, c)), n);
      }
      for (int64_t i = R; i < D; i += W) {  // the channels past R, as they are
        const int n = static_cast<int>(D - i < W ? D - i : W);
        V::store_partial(o1 + i, V::load_partial(x1 + i, n), n);
      }
    }
  });
}

}  // namespace pt::kernels::PT_ISA_NS
