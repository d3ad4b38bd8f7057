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
// Rotary positions, rotate-half convention (Hugging Face LLaMA), on x [B, H, T, D] (D even).
// positions[b * positions_stride_b + t] is the position of token t of sequence b.
using RotaryFn = void(const float* x, const int64_t* positions, float* out, int64_t batch,
                      int64_t heads, int64_t seq, int64_t dim, int64_t positions_stride_b,
                      float base);
// Packs w [N, K] (PyTorch's Linear layout) into the panel layout gemm() reads; packed holds
// gemm_packed_size(N, K) floats.
using GemmPackFn = void(const float* w, int64_t n, int64_t k, float* packed);
using GemmPackedSizeFn = int64_t(int64_t n, int64_t k);
// c[M, N] = act(a[M, K] @ w^T + bias) + residual, w packed by GemmPackFn. bias and residual
// may be null. Leading dimensions are in elements.
using GemmFn = void(const float* a, int64_t lda, const float* packed_w, const float* bias,
                    const float* residual, int64_t ld_residual, float* c, int64_t ldc,
                    int64_t m, int64_t n, int64_t k, Activation act);
// Fused scaled-dot-product attention with masks and online softmax (see attention_args.h).
using AttentionFn = void(const AttentionArgs& args);

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
};

const KernelTable& kernel_table_scalar();
const KernelTable& kernel_table_avx2();
const KernelTable& kernel_table_avx512();

}  // namespace pt
