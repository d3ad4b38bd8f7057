// The csrc/cuda kernels, run by the host emulator (README.md), against naive references
// computed here in double: attention (padding, causal, bias, GQA, packed, strided and KV-cache
// views, no keys), LayerNorm/RMSNorm (residual, sum out, in place), rotary (bit for bit),
// Linear (fp32/fp16/bf16 weights, every activation, bias, residual, residual aliasing out),
// copy/convert, gather_rows, embedding, add, gated activation, and the fronts' argument errors.
// Prints one FAIL line per mismatch; exits non-zero if there was any.
#include "kernels_test.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/linear.h"

namespace emu_test {

namespace {

void test_norm(bool rms, int rows, int C, bool residual, bool strided, bool sum_out) {
  const int xs = strided ? C + 5 : C;
  auto x = randv((size_t)rows * xs), r = randv((size_t)rows * xs), w = randv(C), b = randv(C);
  for (auto& e : x) e += 100.0f;  // a large mean: cancellation would show
  std::vector<float> out((size_t)rows * C, NAN), sum((size_t)rows * C, NAN), want(out.size()),
      want_sum(out.size());
  for (int i = 0; i < rows; ++i) {
    std::vector<double> s(C);
    double mean = 0, var = 0;
    for (int c = 0; c < C; ++c) {
      s[c] = (double)x[i * xs + c] + (residual ? r[i * xs + c] : 0.0f);
      want_sum[i * C + c] = (float)s[c];
      mean += rms ? s[c] * s[c] : s[c];
    }
    mean /= C;
    if (!rms)
      for (int c = 0; c < C; ++c) var += (s[c] - mean) * (s[c] - mean);
    const double inv = rms ? 1 / std::sqrt(mean + 1e-5) : 1 / std::sqrt(var / C + 1e-5);
    for (int c = 0; c < C; ++c)
      want[i * C + c] = rms ? s[c] * inv * w[c] : (s[c] - mean) * inv * w[c] + b[c];
  }
  auto xv = V(x.data(), {rows, C}, {xs, 1}), rv = V(r.data(), {rows, C}, {xs, 1}),
       wv = V(w.data(), {C}), bv = V(b.data(), {C});
  auto ov = V(out.data(), {rows, C}), sv = V(sum.data(), {rows, C});
  if (rms)
    rms_norm(ov, xv, wv, 1e-5f, residual ? &rv : nullptr, sum_out ? &sv : nullptr);
  else
    layer_norm(ov, xv, wv, &bv, 1e-5f, residual ? &rv : nullptr, sum_out ? &sv : nullptr);
  char name[100];
  snprintf(name, sizeof name, "%s rows%d C%d res%d strided%d", rms ? "rms_norm" : "layer_norm",
           rows, C, residual, strided);
  expect_close(name, out.data(), want.data(), out.size(), 2e-3f);  // |s| ~ 100 in fp32
  if (sum_out) expect_close("norm sum_out", sum.data(), want_sum.data(), sum.size(), 0);
}

// R: the features rotated (0: all D); those past R are copied (partial rotary).
void test_rotary(int B, int H, int T, int D, bool shared_pos, int R = 0) {
  auto x = randv((size_t)B * T * H * D);  // stored [B, T, H, D], viewed as [B, H, T, D]
  std::vector<int64_t> pos((size_t)B * T);
  for (auto& p : pos) p = rng() % 5000;
  std::vector<float> out((size_t)B * H * T * D, NAN), want(out.size());
  const int rotated = R ? R : D, half = rotated / 2;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < T; ++t) {
        for (int i = rotated; i < D; ++i)
          want[((b * H + h) * T + t) * D + i] = x[((b * T + t) * H + h) * D + i];
        for (int i = 0; i < half; ++i) {
          const float inv = 1.0f / std::pow(10000.0f, (float)(2 * i) / (float)rotated);
          const float ang = (float)pos[(shared_pos ? 0 : b) * T + t] * inv;
          const float c = (float)std::cos((double)ang), s = (float)std::sin((double)ang);
          const float a = x[((b * T + t) * H + h) * D + i],
                      a2 = x[((b * T + t) * H + h) * D + i + half];
          want[((b * H + h) * T + t) * D + i] = a * c - a2 * s;
          want[((b * H + h) * T + t) * D + i + half] = std::fma(a, s, a2 * c);
        }
      }
  auto xv = V(x.data(), {B, H, T, D}, {(int64_t)T * H * D, D, (int64_t)H * D, 1});
  auto pv = shared_pos ? V(pos.data(), {B, T}, {0, 1}, DType::int64)
                       : V(pos.data(), {B, T}, {}, DType::int64);
  rotary(V(out.data(), {B, H, T, D}), xv, pv, 10000.0f, R);
  expect_close(R ? "partial rotary" : "rotary", out.data(), want.data(), out.size(), 0);
}

void test_linear(int M, int N, int K, DType wt, int act, bool bias, bool residual,
                 bool residual_is_out, bool strided) {
  const int xs = strided ? K + 7 : K;
  auto x = randv((size_t)M * xs), w = randv((size_t)N * K), bb = randv(N), r = randv((size_t)M * N);
  std::vector<float> out((size_t)M * N, NAN), want(out.size());
  if (residual_is_out) out = r;
  std::vector<uint16_t> w16(w.size());
  if (wt != DType::float32) {
    std::vector<float> w2 = w;
    convert(V(w16.data(), {N, K}, {}, wt), V(w2.data(), {N, K}));
  }
  // The reference sees what the kernels see: weights as converted, x rounded to their dtype.
  auto wval = [&](size_t i) {
    if (wt == DType::float32) return w[i];
    if (wt == DType::float16) return __half2float(__half{w16[i]});
    return __bfloat162float(__nv_bfloat16{w16[i]});
  };
  auto xval = [&](float f) {
    if (wt == DType::float32) return f;
    if (wt == DType::float16) return __half2float(__float2half_rn(f));
    return __bfloat162float(__float2bfloat16_rn(f));
  };
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int l = 0; l < K; ++l) acc += (double)xval(x[i * xs + l]) * wval((size_t)j * K + l);
      double y = acc + (bias ? bb[j] : 0.0);
      if (act == 1)
        y = std::max(y, 0.0);
      else if (act == 2)
        y = 0.5 * y * (1 + std::erf(y / std::sqrt(2.0)));
      else if (act == 3)
        y = 0.5 * y * (1 + std::tanh(std::sqrt(2 / M_PI) * (y + 0.044715 * y * y * y)));
      else if (act == 4)
        y = y / (1 + std::exp(-y));
      want[i * N + j] = y + (residual ? r[i * N + j] : 0.0f);
    }
  auto wv = wt == DType::float32 ? V(w.data(), {N, K}) : V(w16.data(), {N, K}, {}, wt);
  auto bv = V(bb.data(), {N});
  Linear layer(wv, bias ? &bv : nullptr);
  auto rv = residual_is_out ? V(out.data(), {M, N}) : V(r.data(), {M, N});
  layer.forward(V(out.data(), {M, N}), V(x.data(), {M, K}, {xs, 1}), act, residual ? &rv : nullptr);
  char name[120];
  snprintf(name, sizeof name, "linear M%d N%d K%d dt%d act%d bias%d res%d resout%d strided%d", M, N,
           K, (int)wt, act, bias, residual, residual_is_out, strided);
  expect_close(name, out.data(), want.data(), out.size(), 1e-4f);
}

void test_misc() {
  // copy: a transposed strided view into contiguous, and copy_to_host of a strided view
  auto src = randv(2 * 3 * 4 * 5);
  std::vector<float> dst(120, NAN), want(120);
  auto sv = V(src.data(), {5, 4, 3, 2}, {1, 5, 20, 60});  // src viewed reversed-axis
  for (int a = 0; a < 5; ++a)
    for (int b = 0; b < 4; ++b)
      for (int c = 0; c < 3; ++c)
        for (int d = 0; d < 2; ++d)
          want[((a * 4 + b) * 3 + c) * 2 + d] = src[a + 5 * b + 20 * c + 60 * d];
  copy(V(dst.data(), {5, 4, 3, 2}), sv);
  expect_close("copy transposed", dst.data(), want.data(), 120, 0);
  std::vector<float> host(120, NAN);
  copy_to_host(sv, host.data(), 480);
  expect_close("copy_to_host strided", host.data(), want.data(), 120, 0);
  // broadcast copy (stride 0)
  std::vector<float> row = randv(7), bc(21, NAN), bcw(21);
  for (int i = 0; i < 21; ++i) bcw[i] = row[i % 7];
  copy(V(bc.data(), {3, 1, 7}), V(row.data(), {3, 1, 7}, {0, 99, 1}));
  expect_close("copy broadcast", bc.data(), bcw.data(), 21, 0);
  // int64 copy of a 7-d view with size-1 axes
  std::vector<int64_t> is(6), id(6, -1);
  for (int i = 0; i < 6; ++i) is[i] = i * 1000000000000LL;
  copy(V(id.data(), {1, 2, 1, 3, 1, 1, 1}, {}, DType::int64),
       V(is.data(), {1, 2, 1, 3, 1, 1, 1}, {}, DType::int64));
  for (int i = 0; i < 6; ++i)
    if (id[i] != is[i]) {
      ++failures;
      printf("FAIL int64 copy\n");
      break;
    }
  // gather_rows with out-of-range -> zeros, strided src rows
  auto g = randv(4 * 10);
  std::vector<int64_t> idx{3, 0, 7, 3, -1};
  std::vector<float> gd(5 * 6, NAN), gw(30);
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 6; ++c)
      gw[r * 6 + c] = idx[r] >= 0 && idx[r] < 4 ? g[idx[r] * 10 + c] : 0.0f;
  gather_rows(V(gd.data(), {5, 6}), V(g.data(), {4, 6}, {10, 1}),
              V(idx.data(), {5}, {}, DType::int64));
  expect_close("gather_rows", gd.data(), gw.data(), 30, 0);
  // embedding
  auto table = randv(9 * 5);
  std::vector<int64_t> ids{2, 8, 0, 9};
  std::vector<float> eo(20, NAN), ew(20);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 5; ++c) ew[r * 5 + c] = ids[r] < 9 ? table[ids[r] * 5 + c] * 2.5f : 0.0f;
  embedding(V(eo.data(), {2, 2, 5}), V(ids.data(), {2, 2}, {}, DType::int64),
            V(table.data(), {9, 5}), 2.5f);
  expect_close("embedding", eo.data(), ew.data(), 20, 0);
  // add with a broadcast row operand (row stride 0) and leading dims
  auto a = randv(24), b = randv(4);
  std::vector<float> ao(24, NAN), aw(24);
  for (int i = 0; i < 24; ++i) aw[i] = a[i] + b[i % 4];
  add(V(ao.data(), {2, 3, 4}), V(a.data(), {2, 3, 4}), V(b.data(), {2, 3, 4}, {0, 0, 1}));
  expect_close("add", ao.data(), aw.data(), 24, 0);
  // gated activation, silu
  auto gt = randv(3 * 8), up = randv(3 * 8);
  std::vector<float> go(12, NAN), gw2(12);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) {
      float z = gt[r * 8 + c];
      gw2[r * 4 + c] = z / (1 + std::exp(-z)) * up[r * 8 + 4 + c];
    }
  gated_activation(V(go.data(), {3, 4}), V(gt.data(), {3, 4}, {8, 1}),
                   V(up.data() + 4, {3, 4}, {8, 1}), 4);
  expect_close("gated silu", go.data(), gw2.data(), 12, 1e-6f);
  // as_rows rejects non-collapsible leading axes
  try {
    as_rows("x", V(a.data(), {2, 3, 2}, {12, 2, 1}));
    ++failures;
    printf("FAIL as_rows accepted\n");
  } catch (const std::invalid_argument&) {
  }
  Rows rr = as_rows("x", V(a.data(), {2, 1, 3, 2}, {12, 777, 4, 1}));
  if (rr.rows != 6 || rr.row_stride != 4 || rr.cols != 2) {
    ++failures;
    printf("FAIL as_rows %ld %ld\n", (long)rr.rows, (long)rr.row_stride);
  }
}

// In place (out == x): layer_norm and rotary; a Linear whose x is one row of a wider matrix.
void test_in_place() {
  auto x = randv(3 * 64), w = randv(64), bb = randv(64);
  std::vector<float> ref(x.size()), xi = x;
  layer_norm(V(ref.data(), {3, 64}), V(x.data(), {3, 64}), V(w.data(), {64}),
             &(const DeviceView&)V(bb.data(), {64}), 1e-5f, nullptr, nullptr);
  layer_norm(V(xi.data(), {3, 64}), V(xi.data(), {3, 64}), V(w.data(), {64}),
             &(const DeviceView&)V(bb.data(), {64}), 1e-5f, nullptr, nullptr);
  expect_close("layer_norm in place", xi.data(), ref.data(), ref.size(), 0);
  std::vector<int64_t> pos{0, 5, 9};
  auto y = randv(1 * 2 * 3 * 16);
  std::vector<float> yr(y.size()), yi = y;
  rotary(V(yr.data(), {1, 2, 3, 16}), V(y.data(), {1, 2, 3, 16}),
         V(pos.data(), {3}, {}, DType::int64), 500.0f);
  rotary(V(yi.data(), {1, 2, 3, 16}), V(yi.data(), {1, 2, 3, 16}),
         V(pos.data(), {3}, {}, DType::int64), 500.0f);
  expect_close("rotary in place", yi.data(), yr.data(), yr.size(), 0);
  test_linear(1, 6, 10, DType::float32, 3, true, true, false, true);
}

}  // namespace

}  // namespace emu_test

int main() {
  using namespace emu_test;
  run_emulator_tests();
  test_misc();
  test_in_place();
  for (int act = 0; act <= 4; ++act)
    test_linear(5, 7, 9, DType::float32, act, act % 2, act >= 2, act == 3, act == 4);
  test_linear(1, 3, 4, DType::float32, 0, false, false, false, false);
  test_linear(6, 5, 33, DType::float16, 2, true, true, false, true);
  test_linear(6, 5, 33, DType::bfloat16, 1, true, true, true, false);
  test_linear(3, 4, 0, DType::float32, 0, true, false, false, false);
  for (bool rms : {false, true}) {
    test_norm(rms, 3, 1, false, false, false);
    test_norm(rms, 4, 37, true, true, true);
    test_norm(rms, 2, 384, true, false, false);
    test_norm(rms, 2, 4100, false, true, true);
  }
  test_rotary(2, 3, 5, 8, false);
  test_rotary(2, 2, 3, 300, true);
  test_rotary(2, 3, 5, 10, false, 4);    // GPT-NeoX-like: a quarter of the head rotated
  test_rotary(1, 2, 3, 80, true, 32);    // Phi-2-like: 32 of 80
  run_attention_tests();
  printf("%s: %d failures\n", failures ? "FAILED" : "OK", failures);
  return failures != 0;
}
