#pragma once
#include "ops/tensor.h"

namespace pt::ops {

// Rotary position embedding (rotate-half, Hugging Face LLaMA) of x [B, H, T, D] (D even) at
// positions [T] (shared by the batch) or [B, T].
void rotary(const ConstView& x, const TensorView<const int64_t>& positions, float base,
            const MutView& out);

}  // namespace pt::ops
