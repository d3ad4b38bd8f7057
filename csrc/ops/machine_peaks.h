// The machine's limits, measured, for the benchmark's napkin maths (pytransformer bench): how
// fast this CPU can multiply-add and how fast it can stream memory in, with the kernels' ISA.
#pragma once
#include <cstdint>

namespace pt::ops {

// fp32 multiply-add throughput of `threads` threads (each its own FMA chains, nothing read from
// memory), in GFLOP/s (an FMA counts 2): the best of a few trials lasting `seconds` in all.
// threads in [1, 4 x logical CPUs], seconds in (0, 60]; otherwise std::invalid_argument.
double measure_fma_gflops(int threads, double seconds);

// Streaming read bandwidth of `threads` threads summing a `bytes` buffer (each its own
// contiguous share), in GB/s (1e9 bytes): the best of `repeats` passes. Use a buffer several
// times the last-level cache, or the figure is the cache's. threads as above, bytes >= 4096,
// repeats >= 1; otherwise std::invalid_argument.
double measure_read_gbps(int threads, int64_t bytes, int repeats);

}  // namespace pt::ops
