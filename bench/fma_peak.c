/* One core's fp32 FMA peak, measured: 12 independent zmm FMA chains (enough to cover the FMA
 * latency on two ports), CPU time so that other load on a shared machine counts less.
 *   gcc -O2 -mavx512f bench/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
 * Take the best of a few runs; bench_gemm.py --peak uses it for its "% of peak" column. */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

int main(void) {
  const __m512 b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-4f);
  /* Distinct starting values, or the compiler merges the chains. */
  __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2);
  __m512 a3 = _mm512_set1_ps(3), a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5);
  __m512 a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7), a8 = _mm512_set1_ps(8);
  __m512 a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
  const long n = 100000000;
  struct timespec t0, t1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  for (long i = 0; i < n; i++) {
#define F(x) x = _mm512_fmadd_ps(x, b, c);
    F(a0) F(a1) F(a2) F(a3) F(a4) F(a5) F(a6) F(a7) F(a8) F(a9) F(a10) F(a11)
    __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6),
                     "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
  }
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
  const double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
  __m512 x = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  x = _mm512_add_ps(x, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  printf("%.1f GFLOP/s fp32 FMA, one core (checksum %g)\n", n * 12.0 * 32 / s / 1e9,
         _mm512_reduce_add_ps(x));
  return 0;
}
