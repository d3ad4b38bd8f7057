// Shared by the kernel tests of the host emulator (README.md): random data, views of host
// memory as device views, and the comparison that counts failures.
#pragma once
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <vector>

#include "cuda/ops.h"

namespace emu_test {

using namespace pt::cuda;

inline std::mt19937 rng(1234);
inline int failures = 0;  // FAIL lines printed
inline float randn() {
  static std::normal_distribution<float> d;
  return d(rng);
}
inline std::vector<float> randv(size_t n) {
  std::vector<float> v(n);
  for (auto& x : v) x = randn();
  return v;
}
inline std::vector<int64_t> cstrides(const std::vector<int64_t>& s) {
  std::vector<int64_t> r(s.size());
  int64_t k = 1;
  for (size_t i = s.size(); i-- > 0;) {
    r[i] = k;
    k *= s[i];
  }
  return r;
}
inline DeviceView V(void* p, std::vector<int64_t> shape, std::vector<int64_t> strides = {},
                    DType dt = DType::float32) {
  if (strides.empty()) strides = cstrides(shape);
  return DeviceView{p, shape, strides, dt};
}
inline void expect_close(const char* what, const float* got, const float* want, size_t n,
                         float tol) {
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = std::fabs((double)got[i] - want[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
    if (std::isnan(got[i]) != std::isnan(want[i])) {
      worst = INFINITY;
      at = i;
      break;
    }
  }
  if (!(worst <= tol)) {
    ++failures;
    printf("FAIL %s: max diff %g at %zu (got %g want %g)\n", what, worst, at, got[at], want[at]);
  }
}

void run_attention_tests();  // attention_test.cpp
void run_emulator_tests();   // emulator_test.cpp

}  // namespace emu_test
