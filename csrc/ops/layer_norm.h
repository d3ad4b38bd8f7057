#pragma once
#include "ops/tensor.h"

namespace pt::ops {

// out = LayerNorm(x + residual) over the last dimension. residual, beta and sum_out are
// optional (null); sum_out receives x + residual (the pre-LN residual stream).
void layer_norm(const ConstView& x, const ConstView* residual, const ConstView& gamma,
                const ConstView* beta, float eps, const MutView& out, const MutView* sum_out);

// out = RMSNorm(x + residual) = (x + residual) / rms * gamma.
void rms_norm(const ConstView& x, const ConstView* residual, const ConstView& gamma, float eps,
              const MutView& out, const MutView* sum_out);

}  // namespace pt::ops
