// The two loops that measure the machine's limits for the benchmark's napkin maths (the op
// front, csrc/ops/machine_peaks.cpp, times them and runs one per thread):
//   fma_loop:  independent FMA chains held in registers, nothing read or written: the fp32
//              arithmetic peak of one core with this ISA's vectors.
//   read_sum:  one pass over a buffer far larger than the caches, summed: the streaming read
//              bandwidth that bounds decode (every weight read once per step).
#include "kernels/kernels.h"

namespace pt::kernels::PT_ISA_NS {
namespace {

using V = Vec;
constexpr int W = V::width;

// An FMA's result feeds the next one of its chain after its latency (4-5 cycles) and a core
// starts up to two per cycle, so at least 2 x 5 chains must be in flight to keep both ports
// busy. 12 chains plus the two constants fit the 16 registers of AVX2 without spilling.
constexpr int kFmaChains = 12;

// Sums need the same cover for the add latency; 8 accumulators keep even the scalar copy
// ahead of memory.
constexpr int kReadAccumulators = 8;

}  // namespace

double fma_loop(int64_t iterations, float* checksum) {
  // a <- a * b + c converges to c / (1 - b) = 0.1: no overflow, no subnormals, however long.
  const auto b = V::set1(0.999f), c = V::set1(1e-4f);
  typename V::reg chain[kFmaChains];
  // Distinct starting values, or the compiler may prove two chains equal and merge them.
  for (int i = 0; i < kFmaChains; ++i) chain[i] = V::set1(static_cast<float>(i));
  for (int64_t it = 0; it < iterations; ++it)
    for (int i = 0; i < kFmaChains; ++i) chain[i] = V::fma(chain[i], b, c);
  // Every chain reaches the result, so none of them can be optimised away.
  auto sum = V::zero();
  for (int i = 0; i < kFmaChains; ++i) sum = V::add(sum, chain[i]);
  *checksum = V::reduce_add(sum);
  return 2.0 * W * kFmaChains * static_cast<double>(iterations);
}

float read_sum(const float* data, int64_t n) {
  typename V::reg acc[kReadAccumulators];
  for (auto& a : acc) a = V::zero();
  constexpr int64_t step = int64_t{W} * kReadAccumulators;
  int64_t i = 0;
  for (; i + step <= n; i += step)
    for (int j = 0; j < kReadAccumulators; ++j) acc[j] = V::add(acc[j], V::load(data + i + j * W));
  float total = 0.0f;
  for (int j = 0; j < kReadAccumulators; ++j) total += V::reduce_add(acc[j]);
  for (; i < n; ++i) total += data[i];
  return total;
}

}  // namespace pt::kernels::PT_ISA_NS
