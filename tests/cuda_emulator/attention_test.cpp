// Attention on the emulated GPU against a plain softmax in double: padding, causal (Tq < Tk,
// Tq > Tk), sliding windows, additive bias (full and broadcast, rows entirely -inf),
// grouped-query heads, strided and transposed views, a KV cache longer than the keys, packed
// sequences, no keys at all, head dims from 1 to 256, and the front's argument errors.
#include <algorithm>

#include "kernels_test.h"

namespace emu_test {

namespace {

// --- attention reference: per (b, h, i), plain softmax in double.
struct AttnCase {
  int B, H, Hkv, Tq, Tk, D;
  bool causal, mask, bias, bias_bcast, strided;
  int window = 0;  // sliding window (with causal); 0 = none
};
void attn_ref(const AttnCase& c, const std::vector<float>& q, const std::vector<float>& k,
              const std::vector<float>& v, const std::vector<uint8_t>& mask,
              const std::vector<float>& bias, float scale, std::vector<float>& out,
              const int64_t* qs,
              const int64_t* ks) {  // strides b,h,t for q and k/v; out contiguous
  const int G = c.H / c.Hkv;
  for (int b = 0; b < c.B; ++b)
    for (int h = 0; h < c.H; ++h)
      for (int i = 0; i < c.Tq; ++i) {
        std::vector<double> s(c.Tk);
        double m = -INFINITY;
        std::vector<bool> vis(c.Tk);
        for (int j = 0; j < c.Tk; ++j) {
          vis[j] = !(c.mask && mask[b * c.Tk + j]) && !(c.causal && j > i + (c.Tk - c.Tq)) &&
                   !(c.window && j <= i + (c.Tk - c.Tq) - c.window);
          if (!vis[j]) continue;
          double d = 0;
          for (int e = 0; e < c.D; ++e)
            d += (double)q[b * qs[0] + h * qs[1] + i * qs[2] + e] *
                 k[b * ks[0] + (h / G) * ks[1] + j * ks[2] + e];
          s[j] = d * scale + (c.bias ? bias[((b * c.H + h) * c.Tq + i) * c.Tk + j] : 0.0);
          m = std::max(m, s[j]);
        }
        double l = 0;
        std::vector<double> o(c.D, 0.0);
        for (int j = 0; j < c.Tk; ++j)
          if (vis[j] && s[j] > -INFINITY) {
            double p = std::exp(s[j] - m);
            l += p;
            for (int e = 0; e < c.D; ++e)
              o[e] += p * v[b * ks[0] + (h / G) * ks[1] + j * ks[2] + e];
          }
        for (int e = 0; e < c.D; ++e)
          out[((b * c.H + h) * c.Tq + i) * c.D + e] = l > 0 ? o[e] / l : 0.0;
      }
}

void test_attention(const AttnCase& c) {
  // strided: q/k/v live in a [B, T, H(kv), D + 3] buffer (transposed heads, padded rows).
  const int Dp = c.strided ? c.D + 3 : c.D;
  int64_t qs[3], ks[3];
  if (c.strided) {
    qs[0] = (int64_t)c.Tq * c.H * Dp;
    qs[1] = Dp;
    qs[2] = (int64_t)c.H * Dp;
    ks[0] = (int64_t)c.Tk * c.Hkv * Dp;
    ks[1] = Dp;
    ks[2] = (int64_t)c.Hkv * Dp;
  } else {
    qs[0] = (int64_t)c.H * c.Tq * c.D;
    qs[1] = (int64_t)c.Tq * c.D;
    qs[2] = c.D;
    ks[0] = (int64_t)c.Hkv * c.Tk * c.D;
    ks[1] = (int64_t)c.Tk * c.D;
    ks[2] = c.D;
  }
  auto q = randv((size_t)c.B * c.Tq * c.H * Dp), k = randv((size_t)c.B * c.Tk * c.Hkv * Dp),
       v = randv((size_t)c.B * c.Tk * c.Hkv * Dp);
  std::vector<uint8_t> mask(c.B * c.Tk);
  for (auto& x : mask) x = rng() % 3 == 0;
  if (c.mask && c.B > 1)
    for (int j = 0; j < c.Tk; ++j) mask[c.Tk + j] = 1;  // batch 1 fully padded
  std::vector<float> bias((size_t)c.B * c.H * c.Tq * c.Tk);
  std::vector<float> bias_src = randv(bias.size());
  int64_t bst[4] = {(int64_t)c.H * c.Tq * c.Tk, (int64_t)c.Tq * c.Tk, c.Tk, 1};
  if (c.bias_bcast) {
    bst[1] = 0;
    bst[3] = 0;
  }  // broadcast over heads and keys
  for (int b = 0; b < c.B; ++b)
    for (int h = 0; h < c.H; ++h)
      for (int i = 0; i < c.Tq; ++i)
        for (int j = 0; j < c.Tk; ++j)
          bias[((b * c.H + h) * c.Tq + i) * c.Tk + j] =
              bias_src[b * bst[0] + h * bst[1] + i * bst[2] + j * bst[3]];
  if (c.bias && c.Tk > 2 && !c.bias_bcast)
    for (int i = 0; i < c.Tq; ++i)
      for (int j = 0; j < c.Tk; ++j) bias[(i)*c.Tk + j] = -INFINITY;  // b0 h0 fully -inf
  if (c.bias && c.Tk > 2 && !c.bias_bcast)
    for (int i = 0; i < c.Tq; ++i)
      for (int j = 0; j < c.Tk; ++j) bias_src[i * c.Tk + j] = -INFINITY;
  const float scale = 1.0f / std::sqrt((float)c.D);
  std::vector<float> want((size_t)c.B * c.H * c.Tq * c.D), got(want.size(), NAN);
  attn_ref(c, q, k, v, mask, bias, scale, want, qs, ks);
  auto qv = V(q.data(), {c.B, c.H, c.Tq, c.D}, {qs[0], qs[1], qs[2], 1});
  auto kv = V(k.data(), {c.B, c.Hkv, c.Tk, c.D}, {ks[0], ks[1], ks[2], 1});
  auto vv = V(v.data(), {c.B, c.Hkv, c.Tk, c.D}, {ks[0], ks[1], ks[2], 1});
  auto ov = V(got.data(), {c.B, c.H, c.Tq, c.D});
  auto mv = V(mask.data(), {c.B, c.Tk}, {}, DType::uint8);
  auto bv = V(bias_src.data(), {c.B, c.H, c.Tq, c.Tk}, {bst[0], bst[1], bst[2], bst[3]});
  attention(ov, qv, kv, vv, c.mask ? &mv : nullptr, c.causal, c.bias ? &bv : nullptr, scale,
            nullptr, nullptr, c.window);
  char name[200];
  snprintf(name, sizeof name,
           "attention B%d H%d Hkv%d Tq%d Tk%d D%d causal%d mask%d bias%d bc%d strided%d window%d",
           c.B, c.H, c.Hkv, c.Tq, c.Tk, c.D, c.causal, c.mask, c.bias, c.bias_bcast, c.strided,
           c.window);
  expect_close(name, got.data(), want.data(), want.size(), 2e-5f);
}

// Packed: sequences of lengths lq[b], lk[b] vs each as its own batch of one.
void test_attention_packed(std::vector<int> lq, std::vector<int> lk, int H, int Hkv, int D,
                           bool causal, bool pack_q, bool pack_k) {
  const int B = lq.size();
  int maxq = 0, maxk = 0, nq = 0, nk = 0;
  for (int b = 0; b < B; ++b) {
    maxq = std::max(maxq, lq[b]);
    maxk = std::max(maxk, lk[b]);
    nq += lq[b];
    nk += lk[b];
  }
  if (!pack_q)
    for (auto& x : lq) x = maxq;
  if (!pack_k)
    for (auto& x : lk) x = maxk;
  std::vector<int64_t> qo{0}, ko{0};
  for (int b = 0; b < B; ++b) {
    qo.push_back(qo.back() + lq[b]);
    ko.push_back(ko.back() + lk[b]);
  }
  const int NQ = pack_q ? qo.back() : maxq, NK = pack_k ? ko.back() : maxk, BQ = pack_q ? 1 : B,
            BK = pack_k ? 1 : B;
  auto q = randv((size_t)BQ * H * NQ * D), k = randv((size_t)BK * Hkv * NK * D),
       v = randv(k.size());
  std::vector<float> got(q.size(), NAN), want(q.size(), NAN);
  for (int b = 0; b < B; ++b) {
    AttnCase c{1, H, Hkv, lq[b], lk[b], D, causal, false, false, false, false};
    const int64_t q0 = pack_q ? qo[b] : 0, k0 = pack_k ? ko[b] : 0, qb = pack_q ? 0 : b,
                  kb = pack_k ? 0 : b;
    std::vector<float> qq((size_t)H * lq[b] * D), kk((size_t)Hkv * lk[b] * D), vv(kk.size()),
        oo(qq.size());
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < lq[b]; ++i)
        for (int e = 0; e < D; ++e)
          qq[(h * lq[b] + i) * D + e] = q[((qb * H + h) * (int64_t)NQ + q0 + i) * D + e];
    for (int h = 0; h < Hkv; ++h)
      for (int i = 0; i < lk[b]; ++i)
        for (int e = 0; e < D; ++e) {
          kk[(h * lk[b] + i) * D + e] = k[((kb * Hkv + h) * (int64_t)NK + k0 + i) * D + e];
          vv[(h * lk[b] + i) * D + e] = v[((kb * Hkv + h) * (int64_t)NK + k0 + i) * D + e];
        }
    int64_t qs[3] = {0, (int64_t)lq[b] * D, D}, ks[3] = {0, (int64_t)lk[b] * D, D};
    attn_ref(c, qq, kk, vv, {}, {}, 0.3f, oo, qs, ks);
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < lq[b]; ++i)
        for (int e = 0; e < D; ++e)
          want[((qb * H + h) * (int64_t)NQ + q0 + i) * D + e] = oo[(h * lq[b] + i) * D + e];
  }
  auto qv = V(q.data(), {BQ, H, NQ, D}), kv = V(k.data(), {BK, Hkv, NK, D}),
       vv = V(v.data(), {BK, Hkv, NK, D}), ov = V(got.data(), {BQ, H, NQ, D});
  auto qov = V(qo.data(), {B + 1}, {}, DType::int64), kov = V(ko.data(), {B + 1}, {}, DType::int64);
  attention(ov, qv, kv, vv, nullptr, causal, nullptr, 0.3f, pack_q ? &qov : nullptr,
            pack_k ? &kov : nullptr);
  // Unpacked padded query rows (i >= real length) are not compared: mark them equal.
  for (size_t i = 0; i < got.size(); ++i)
    if (std::isnan(want[i])) want[i] = got[i];
  char name[200];
  snprintf(name, sizeof name, "attention packed B%d H%d Hkv%d D%d causal%d pq%d pk%d", B, H, Hkv, D,
           causal, pack_q, pack_k);
  expect_close(name, got.data(), want.data(), want.size(), 2e-5f);
}

// Decode over a KV cache longer than Tk (k a view of [B, Hkv, 50, D] up to 37), GQA G = 4,
// causal + padding, out written through a transposed [B, T, H, D] view.
void test_attention_kv_cache() {
  const int B = 3, H = 8, Hkv = 2, Tq = 2, Tk = 37, Tmax = 50, D = 24;
  auto q = randv((size_t)B * H * Tq * D), kc = randv((size_t)B * Hkv * Tmax * D),
       vc = randv(kc.size());
  std::vector<uint8_t> mask(B * Tk, 0);
  for (int j = 0; j < 5; ++j) mask[Tk + j] = 1;
  mask[2 * Tk + Tk - 1] = 1;
  std::vector<float> k((size_t)B * Hkv * Tk * D), v(k.size());
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < Hkv; ++h)
      for (int t = 0; t < Tk; ++t)
        for (int e = 0; e < D; ++e) {
          k[((b * Hkv + h) * Tk + t) * D + e] = kc[((b * Hkv + h) * Tmax + t) * D + e];
          v[((b * Hkv + h) * Tk + t) * D + e] = vc[((b * Hkv + h) * Tmax + t) * D + e];
        }
  AttnCase c{B, H, Hkv, Tq, Tk, D, true, true, false, false, false};
  std::vector<float> want((size_t)B * H * Tq * D), got(want.size(), NAN), got_t(want.size(), NAN);
  int64_t qs[3] = {(int64_t)H * Tq * D, (int64_t)Tq * D, D},
          ks[3] = {(int64_t)Hkv * Tk * D, (int64_t)Tk * D, D};
  attn_ref(c, q, k, v, mask, {}, 0.2f, want, qs, ks);
  auto kv = V(kc.data(), {B, Hkv, Tk, D}, {(int64_t)Hkv * Tmax * D, (int64_t)Tmax * D, D, 1});
  auto vv = V(vc.data(), {B, Hkv, Tk, D}, {(int64_t)Hkv * Tmax * D, (int64_t)Tmax * D, D, 1});
  auto mv = V(mask.data(), {B, Tk}, {}, DType::uint8);
  attention(V(got_t.data(), {B, H, Tq, D}, {(int64_t)Tq * H * D, D, (int64_t)H * D, 1}),
            V(q.data(), {B, H, Tq, D}), kv, vv, &mv, true, nullptr, 0.2f, nullptr, nullptr);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < Tq; ++t)
        for (int e = 0; e < D; ++e)
          got[((b * H + h) * Tq + t) * D + e] = got_t[((b * Tq + t) * H + h) * D + e];
  expect_close("attention kv-cache view, transposed out", got.data(), want.data(), want.size(),
               2e-5f);
}

void test_attention_errors() {
  auto big = randv(1 * 1 * 1 * 300);
  try {
    attention(V(big.data(), {1, 1, 1, 300}), V(big.data(), {1, 1, 1, 300}),
              V(big.data(), {1, 1, 1, 300}), V(big.data(), {1, 1, 1, 300}), nullptr, false, nullptr,
              1, nullptr, nullptr);
    ++failures;
    printf("FAIL D>256 accepted\n");
  } catch (const std::invalid_argument& e) {
    printf("ok: %s\n", e.what());
  }
  try {
    attention(V(big.data(), {1, 3, 1, 4}), V(big.data(), {1, 3, 1, 4}), V(big.data(), {1, 2, 1, 4}),
              V(big.data(), {1, 2, 1, 4}), nullptr, false, nullptr, 1, nullptr, nullptr);
    ++failures;
    printf("FAIL H%%Hkv accepted\n");
  } catch (const std::invalid_argument& e) {
    printf("ok: %s\n", e.what());
  }
  try {
    attention(V(big.data(), {1, 1, 1, 4}), V(big.data(), {1, 1, 1, 4}), V(big.data(), {1, 1, 1, 4}),
              V(big.data(), {1, 1, 1, 4}), nullptr, false, nullptr, 1, nullptr, nullptr, 3);
    ++failures;
    printf("FAIL sliding window without causal accepted\n");
  } catch (const std::invalid_argument& e) {
    printf("ok: %s\n", e.what());
  }
}

}  // namespace

void run_attention_tests() {
  std::vector<AttnCase> cases = {
      {1, 1, 1, 1, 1, 1, false, false, false, false, false},
      {2, 2, 2, 3, 5, 8, false, false, false, false, false},
      {2, 4, 2, 9, 33, 33, true, false, false, false, false},
      {3, 4, 1, 1, 70, 64, false, true, false, false, true},
      {2, 2, 1, 17, 17, 100, true, true, true, false, false},
      {2, 3, 3, 5, 40, 16, false, false, true, true, true},
      {1, 2, 2, 20, 6, 40, true, false, false, false, false},  // Tq > Tk: early rows see nothing
      {2, 2, 1, 3, 65, 256, true, true, true, false, true},
      {1, 1, 1, 12, 12, 130, true, false, false, false, false},
      {2, 6, 2, 4, 31, 7, false, true, false, false, false},
      {1, 2, 2, 3, 0, 8, false, false, false, false, false},  // no keys: zeros
      // Sliding windows: narrower than a key tile (32), across several, a decode step, padding.
      {2, 4, 2, 40, 40, 16, true, false, false, false, false, 5},
      {1, 2, 2, 9, 100, 64, true, true, false, false, true, 40},
      {2, 8, 2, 1, 90, 32, true, true, true, false, false, 7},
  };
  for (const auto& c : cases) test_attention(c);
  test_attention_packed({3, 0, 5, 1}, {4, 2, 5, 7}, 2, 1, 16, true, true, true);
  test_attention_packed({3, 9, 5}, {4, 2, 12}, 4, 2, 33, false, true, false);
  test_attention_packed({1, 1, 1}, {40, 3, 12}, 2, 2, 8, true, false, true);
  test_attention_packed({10, 3}, {10, 3}, 2, 2, 64, true, true, true);
  test_attention_kv_cache();
  test_attention_errors();
}

}  // namespace emu_test
