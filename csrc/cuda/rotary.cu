// Rotary position embedding (RoFormer) in the rotate-half layout of Hugging Face LLaMA, as the
// CPU kernel (kernels/rotary.cpp): channel i and channel i + R/2 form one pair rotated by the
// angle pos * base^(-2i/R), for the first R = rotary_dim channels; channels R..D pass through
// (partial rotary). B = batch, H = heads, T = positions, D = head dim.
// x: [B, H, T, D], last stride 1; out: [B, H, T, D] contiguous (may be x itself: each thread
// reads both halves of its pair before writing them); positions: [B, T] or [T] int64.
//
// Bit-for-bit the CPU's angles: the inverse frequencies are computed on the host with the CPU
// kernel's own float expression (device powf may differ from glibc's in the last ulp) and kept
// on the device per (base, R); angle = float(pos) * inv_freq in float; cos and sin of that angle
// in double, rounded to float; the rotation without contracted FMAs where the CPU has none.
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/device.h"
#include "cuda/ops.h"
#include "kernels/rotary_features.h"

namespace pt::cuda {

namespace {

// inv_freq[i] = 1 / base^(2i / R) for i < R/2, on the current device; uploaded once per
// (device, base, R) and kept for the life of the process (a few hundred bytes each).
const float* inv_freq_table(float base, int64_t R) {
  static std::mutex mutex;
  static auto* tables = new std::map<std::tuple<int, float, int64_t>, std::unique_ptr<Buffer>>();
  const int device = current_device();
  std::lock_guard<std::mutex> lock(mutex);
  auto& table = (*tables)[{device, base, R}];
  if (!table) {
    const int64_t half = R / 2;
    std::vector<float> host(half);
    for (int64_t i = 0; i < half; ++i)
      host[i] = 1.0f / std::pow(base, static_cast<float>(2 * i) / static_cast<float>(R));
    auto buffer = std::make_unique<Buffer>(half * sizeof(float));
    check(cudaMemcpy(buffer->ptr(), host.data(), half * sizeof(float), cudaMemcpyHostToDevice),
          "rotary: upload of the inverse frequencies");
    table = std::move(buffer);
  }
  return static_cast<const float*>(table->ptr());
}

// One block per (b, t): thread i computes its pair's cos/sin once and rotates that pair in
// every head, then copies the channels past R (R + i, R + i + blockDim.x, ...) of every head.
__global__ void rotary_kernel(float* out, const float* x, int64_t x_stride_b, int64_t x_stride_h,
                              int64_t x_stride_t, const int64_t* positions, int64_t pos_stride_b,
                              int64_t pos_stride_t, const float* inv_freq, int64_t H, int64_t T,
                              int64_t D, int64_t R) {
  const int64_t b = blockIdx.x / T, t = blockIdx.x % T;
  const int64_t half = R / 2;
  const float pos = static_cast<float>(positions[b * pos_stride_b + t * pos_stride_t]);
  for (int64_t i = threadIdx.x; i < half; i += blockDim.x) {
    const float angle = pos * inv_freq[i];
    double s, c;
    sincos(static_cast<double>(angle), &s, &c);
    const float cos_a = static_cast<float>(c), sin_a = static_cast<float>(s);
    for (int64_t h = 0; h < H; ++h) {
      const float* x1 = x + b * x_stride_b + h * x_stride_h + t * x_stride_t;
      float* o1 = out + ((b * H + h) * T + t) * D;
      const float a = x1[i], a2 = x1[i + half];
      // (a, a2) -> (a cos - a2 sin, a2 cos + a sin), rounded as the CPU kernel does.
      o1[i] = __fsub_rn(__fmul_rn(a, cos_a), __fmul_rn(a2, sin_a));
      o1[i + half] = fmaf(a, sin_a, __fmul_rn(a2, cos_a));
    }
  }
  for (int64_t i = R + threadIdx.x; i < D; i += blockDim.x) {
    for (int64_t h = 0; h < H; ++h)
      out[((b * H + h) * T + t) * D + i] = x[b * x_stride_b + h * x_stride_h + t * x_stride_t + i];
  }
}

}  // namespace

void rotary(const DeviceView& out, const DeviceView& x, const DeviceView& positions, float base,
            int64_t rotary_dim) {
  expect_dtype("x", x, DType::float32);
  expect_rank("x", x, 4);
  expect_unit_last_stride("x", x);
  expect_dtype("out", out, DType::float32);
  expect_shape("out", out, x.shape);
  expect_contiguous("out", out);
  const int64_t B = x.dim(0), H = x.dim(1), T = x.dim(2), D = x.dim(3);
  const int64_t R = rotated_features(rotary_dim, D);
  if (R % 2 != 0) fail_shape("x", "an even head dimension (last axis)", x.shape);
  expect_dtype("positions", positions, DType::int64);
  int64_t pos_stride_b = 0;
  if (positions.rank() == 1) {
    expect_shape("positions", positions, {T});
  } else {
    expect_shape("positions", positions, {B, T});
    pos_stride_b = positions.stride(0);
  }
  const int64_t pos_stride_t = positions.stride(-1);
  if (!(base > 0.0f)) throw std::invalid_argument("base: expected a positive number");
  if (x.numel() == 0) return;
  if (B * T > 0x7fffffff)
    throw std::invalid_argument("x: at most 2^31 - 1 (batch, position) pairs, got shape " +
                                shape_str(x.shape));
  const float* inv_freq = inv_freq_table(base, R);
  const int64_t half = R / 2;
  const int threads = static_cast<int>(half < 128 ? ceil_div(half, kWarp) * kWarp : 128);
  rotary_kernel<<<static_cast<unsigned>(B * T), threads>>>(
      static_cast<float*>(out.ptr), static_cast<const float*>(x.ptr), x.stride(0), x.stride(1),
      x.stride(2), static_cast<const int64_t*>(positions.ptr), pos_stride_b, pos_stride_t,
      inv_freq, H, T, D, R);
  check_launch("rotary");
}

}  // namespace pt::cuda
