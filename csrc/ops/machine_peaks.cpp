#include "ops/machine_peaks.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "cpu/aligned.h"
#include "cpu/isa.h"
#include "cpu/threading.h"

namespace pt::ops {
namespace {

// Best of this many trials: a trial that a context switch or another process interrupts reads
// low, never high, so the fastest is the one closest to the machine.
constexpr int kFmaTrials = 3;
// The calibration run must last long enough for the clock to resolve it well.
constexpr double kCalibrationSeconds = 2e-3;
constexpr int64_t kMinReadBytes = 4096;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Iterations of the FMA loop one thread runs in about `seconds`, from a run on this thread.
int64_t fma_iterations_for(double seconds) {
  const auto& k = kernels();
  float checksum = 0.0f;
  int64_t iterations = 1024;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    k.fma_loop(iterations, &checksum);
    const double took = seconds_since(start);
    if (took >= kCalibrationSeconds)
      return std::max<int64_t>(1, static_cast<int64_t>(iterations * (seconds / took)));
    iterations *= 2;
  }
}

}  // namespace

double measure_fma_gflops(int threads, double seconds) {
  check_thread_count(threads, "threads");
  if (!(seconds > 0.0 && seconds <= 60.0))  // also rejects NaN
    throw std::invalid_argument("seconds must be in (0, 60], got " + std::to_string(seconds));
  const auto& k = kernels();
  const int64_t iterations = fma_iterations_for(seconds / kFmaTrials);
  double best = 0.0;
  for (int trial = 0; trial < kFmaTrials; ++trial) {
    double flops = 0.0;
    const auto start = std::chrono::steady_clock::now();
    // The team OpenMP actually gives may be smaller than asked: count the work each thread did.
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    {
      float checksum = 0.0f;
      flops += k.fma_loop(iterations, &checksum);
    }
    best = std::max(best, flops / seconds_since(start) / 1e9);
  }
  return best;
}

double measure_read_gbps(int threads, int64_t bytes, int repeats) {
  check_thread_count(threads, "threads");
  if (bytes < kMinReadBytes)
    throw std::invalid_argument("bytes must be >= " + std::to_string(kMinReadBytes) + ", got " +
                                std::to_string(bytes));
  if (repeats < 1)
    throw std::invalid_argument("repeats must be >= 1, got " + std::to_string(repeats));
  const auto& k = kernels();
  const int64_t n = bytes / static_cast<int64_t>(sizeof(float));
  const auto buffer = aligned_array<float>(static_cast<size_t>(n));
  float* data = buffer.get();
  // Each thread first touches the share it will read, so its pages sit on its memory node, and
  // none of the timed passes pays for a page fault.
  const auto share = [n](int t, int team) {
    return std::make_pair(n * t / team, n * (t + 1) / team);
  };
#pragma omp parallel num_threads(threads)
  {
    const auto [begin, end] = share(omp_get_thread_num(), omp_get_num_threads());
    for (int64_t i = begin; i < end; ++i) data[i] = 1.0f;
  }
  double best = 0.0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
    {
      const auto [begin, end] = share(omp_get_thread_num(), omp_get_num_threads());
      k.read_sum(data + begin, end - begin);  // an opaque call: its reads cannot be dropped
    }
    best = std::max(best, static_cast<double>(n) * sizeof(float) / seconds_since(start) / 1e9);
  }
  return best;
}

}  // namespace pt::ops
