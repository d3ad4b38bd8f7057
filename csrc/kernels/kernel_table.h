// The signature of every CPU kernel, and the table of one ISA's implementations. Each ISA's
// copy of csrc/kernels/*.cpp fills one KernelTable; csrc/cpu/isa.cpp picks the table once.
// Kernels take raw pointers and sizes, assume their inputs were validated by the op front
// (csrc/ops/), and never allocate per call beyond the per-thread scratch (cpu/threading.h).
#pragma once
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/attention_args.h"

namespace pt {

// out[r] = (x[r] + residual[r] - mean) / sqrt(var + eps) * gamma + beta, over rows x dim.
// residual and beta may be null; sum_out (if not null) receives x + residual.
using LayerNormFn = void(const float* x, const float* residual, const float* gamma,
                         const float* beta, float* out, float* sum_out, int64_t rows,
                         int64_t dim, float eps);
// out[r] = (x[r] + residual[r]) / sqrt(mean((x + residual)^2) + eps) * gamma.
using RmsNormFn = void(const float* x, const float* residual, const float* gamma, float* out,
                       float* sum_out, int64_t rows, int64_t dim, float eps);
// Softmax over the last (contiguous) dimension of rows x dim.
using SoftmaxFn = void(const float* x, float* out, int64_t rows, int64_t dim);
// out = act(x) elementwise over n values.
using ActivationFn = void(const float* x, float* out, int64_t n, Activation act);
// out = act(gate) * up elementwise (SwiGLU and friends).
using GatedActivationFn = void(const float* gate, const float* up, float* out, int64_t n,
                               Activation act);
// out[i, :] = table[ids[i], :] * scale for n ids (already checked to lie in [0, vocab)).
using EmbeddingFn = void(const int64_t* ids, const float* table, float* out, int64_t n,
                         int64_t dim, float scale);
// Rotary positions, rotate-half convention (Hugging Face LLaMA), on the first rotary_dim
// (even, <= D) features of each head of x [B, H, T, D]; the other D - rotary_dim features are
// copied as they are (partial rotary: GPT-NeoX, Phi). x is read through its strides (the head
// axis D contiguous: a head view of a fused QKV projection needs no copy), out is C-contiguous.
// positions[b * positions_stride_b + t] is the position of token t of sequence b.
using RotaryFn = void(const float* x, int64_t x_stride_b, int64_t x_stride_h, int64_t x_stride_t,
                      const int64_t* positions, float* out, int64_t batch, int64_t heads,
                      int64_t seq, int64_t dim, int64_t rotary_dim, int64_t positions_stride_b,
                      float base);
// Packs w [N, K] (PyTorch's Linear layout; element (n, k) at w[n * stride_n + k * stride_k], so a
// transposed [K, N] view packs without a copy) into the panel layout gemm() reads; packed holds
// gemm_packed_size(N, K) floats.
using GemmPackFn = void(const float* w, int64_t n, int64_t k, int64_t stride_n, int64_t stride_k,
                        float* packed);
using GemmPackedSizeFn = int64_t(int64_t n, int64_t k);
// c[M, N] = act(a[M, K] @ w^T + bias) + residual, w packed by GemmPackFn. bias and residual
// may be null. Leading dimensions are in elements.
using GemmFn = void(const float* a, int64_t lda, const float* packed_w, const float* bias,
                    const float* residual, int64_t ld_residual, float* c, int64_t ldc,
                    int64_t m, int64_t n, int64_t k, Activation act);
// Fused scaled-dot-product attention with masks and online softmax (see attention_args.h).
using AttentionFn = void(const AttentionArgs& args);
// The machine-peak loops (kernels/machine_peaks.cpp), one thread each. fma_loop runs
// `iterations` rounds of independent register-held FMA chains and returns the floating-point
// operations done; *checksum gets a value every chain feeds. read_sum returns the sum of n floats.
using FmaLoopFn = double(int64_t iterations, float* checksum);
using ReadSumFn = float(const float* data, int64_t n);

struct KernelTable {
  const char* isa;
  LayerNormFn* layer_norm;
  RmsNormFn* rms_norm;
  SoftmaxFn* softmax;
  ActivationFn* activation;
  GatedActivationFn* gated_activation;
  EmbeddingFn* embedding;
  RotaryFn* rotary;
  GemmPackedSizeFn* gemm_packed_size;
  GemmPackFn* gemm_pack;
  GemmFn* gemm;
  AttentionFn* attention;
  FmaLoopFn* fma_loop;
  ReadSumFn* read_sum;
};

// int8 GEMM (opt-in compute type). w [N, K] int8 (symmetric, per-output-channel scales
// w_scale[N]) is packed once into packed_size(N, K) bytes of the variant's panel layout, with the
// per-column compensation the u8 x s8 variant needs. At run time each row of a [M, K] is
// quantized symmetrically on its own (per token: scale = max|row| / 127, q = round(x / scale)),
// accumulated exactly in int32 against the weight, and dequantized in the epilogue:
//   c[m, n] = act(acc[m, n] * a_scale[m] * w_scale[n] + bias[n]) + residual[m, n].
// With acc_out not null, the exact int32 accumulators are written there ([M, N], row stride
// ldc) instead of c (the test hook that checks every variant against the scalar one).
using GemmS8PackedSizeFn = int64_t(int64_t n, int64_t k);
using GemmS8PackFn = void(const int8_t* w, int64_t n, int64_t k, void* packed);
using GemmS8Fn = void(const float* a, int64_t lda, const void* packed_w, const float* w_scale,
                      const float* bias, const float* residual, int64_t ld_residual, float* c,
                      int64_t ldc, int64_t m, int64_t n, int64_t k, Activation act,
                      int32_t* acc_out);
// q[r, :] = round(x[r, :] / scales[r]) with scales[r] = max|x[r, :]| / 127 (0 for a zero row),
// rows x k, the dynamic activation quantization the GEMM applies.
using QuantizeRowsFn = void(const float* x, int64_t rows, int64_t k, int8_t* q, float* scales);

struct GemmS8Kernels {
  const char* name;  // "avx512_amx", "avx512_vnni", "avx512bw", "avx2", "scalar"
  GemmS8PackedSizeFn* packed_size;
  GemmS8PackFn* pack;
  GemmS8Fn* gemm;
  QuantizeRowsFn* quantize_rows;
};

const GemmS8Kernels& gemm_s8_kernels_scalar();
const GemmS8Kernels& gemm_s8_kernels_avx2();
const GemmS8Kernels& gemm_s8_kernels_avx512();
const GemmS8Kernels& gemm_s8_kernels_avx512vnni();
// Defined only in builds whose compiler has AMX (PT_HAVE_AMX); called only there.
const GemmS8Kernels& gemm_s8_kernels_avx512amx();

const KernelTable& kernel_table_scalar();
const KernelTable& kernel_table_avx2();
const KernelTable& kernel_table_avx512();

}  // namespace pt
