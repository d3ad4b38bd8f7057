#pragma once
#include "ops/tensor.h"

namespace pt::ops {

// out[..., :] = table[ids[...], :] * scale. Every id must lie in [0, vocab): one outside raises
// std::invalid_argument naming it (checked before anything is read).
void embedding(const TensorView<const int64_t>& ids, const ConstView& table, float scale,
               const MutView& out);

// The 2017 paper's position table out [length, dim]: out[pos, 2i] = sin(pos / 10000^(2i/dim)),
// out[pos, 2i + 1] = cos(the same angle). Computed in double, once per model, so not a kernel.
void sinusoidal_positions(const MutView& out);

}  // namespace pt::ops
