#pragma once
#include "ops/tensor.h"

namespace pt::ops {

// Softmax over the last dimension of a contiguous x.
void softmax(const ConstView& x, const MutView& out);

}  // namespace pt::ops
