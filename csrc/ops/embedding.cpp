#include "ops/embedding.h"

#include <cmath>

#include "cpu/isa.h"

namespace pt::ops {

void embedding(const TensorView<const int64_t>& ids, const ConstView& table, float scale,
               const MutView& out) {
  expect_contiguous("ids", ids);
  expect_rank("table", table, 2);
  expect_contiguous("table", table);
  const int64_t vocab = table.dim(0);
  const int64_t C = table.dim(1);
  Shape expected = ids.shape;
  expected.push_back(C);
  expect_shape("out", out, expected);
  const int64_t n = ids.numel();
  for (int64_t i = 0; i < n; ++i) {
    if (ids.data[i] < 0 || ids.data[i] >= vocab)
      throw std::invalid_argument("ids: token id " + std::to_string(ids.data[i]) + " at flat index " +
                              std::to_string(i) + " is outside [0, " + std::to_string(vocab) +
                              ")");
  }
  kernels().embedding(ids.data, table.data, out.data, n, C, scale);
}

void sinusoidal_positions(const MutView& out) {
  expect_rank("out", out, 2);
  expect_contiguous("out", out);
  const int64_t length = out.dim(0), dim = out.dim(1);
  for (int64_t pos = 0; pos < length; ++pos) {
    for (int64_t c = 0; c < dim; ++c) {
      const int64_t pair = c / 2;
      const double angle =
          static_cast<double>(pos) / std::pow(10000.0, 2.0 * pair / static_cast<double>(dim));
      out.data[pos * dim + c] = static_cast<float>(c % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  }
}

}  // namespace pt::ops
