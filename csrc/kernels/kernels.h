// Declares this ISA's kernels (types in kernel_table.h). Included only by kernel sources.
#pragma once
#include "cpu/vec.h"
#include "kernels/kernel_table.h"

namespace pt::kernels::PT_ISA_NS {

LayerNormFn layer_norm;
RmsNormFn rms_norm;
SoftmaxFn softmax;
ActivationFn activation;
GatedActivationFn gated_activation;
EmbeddingFn embedding;
RotaryFn rotary;
GemmPackedSizeFn gemm_packed_size;
GemmPackFn gemm_pack;
GemmFn gemm;
AttentionFn attention;
FmaLoopFn fma_loop;
ReadSumFn read_sum;

}  // namespace pt::kernels::PT_ISA_NS
