#pragma once
#include "ops/tensor.h"

namespace pt::ops {

// Rotary position embedding (rotate-half, Hugging Face LLaMA) of the first rotary_dim features
// of each head of x [B, H, T, D] at positions [T] (shared by the batch) or [B, T]; the others
// pass through (partial rotary). rotary_dim: even, in [2, D]; 0 means D (D even).
void rotary(const ConstView& x, const TensorView<const int64_t>& positions, float base,
            const MutView& out, int64_t rotary_dim = 0);

}  // namespace pt::ops
