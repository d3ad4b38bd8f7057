// How many features of each head rotary positions rotate, shared by the CPU op and the CUDA one
// (header-only, no ISA code).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace pt {

// rotary_dim, checked: an even count in [2, head_dim] (partial rotary: GPT-NeoX, Phi), or 0 for
// all head_dim features (whose evenness the caller checks, naming x).
inline int64_t rotated_features(int64_t rotary_dim, int64_t head_dim) {
  if (rotary_dim == 0) return head_dim;
  if (rotary_dim < 0 || rotary_dim > head_dim || rotary_dim % 2 != 0)
    throw std::invalid_argument("rotary_dim: expected an even number of features in [2, " +
                                std::to_string(head_dim) + "] (the head dimension) or 0 for " +
                                "all, got " + std::to_string(rotary_dim));
  return rotary_dim;
}

}  // namespace pt
