// A non-owning view of a float32 (or int64 / uint8) array: pointer, shape and element strides.
// The op fronts take views, check them, and hand raw pointers to the kernels.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pt::ops {

using Shape = std::vector<int64_t>;

template <class T>
struct TensorView {
  T* data = nullptr;
  Shape shape;
  Shape strides;  // in elements

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t dim(int64_t i) const { return shape[i < 0 ? i + rank() : i]; }
  int64_t stride(int64_t i) const { return strides[i < 0 ? i + rank() : i]; }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
  }
  bool contiguous() const {
    if (numel() == 0) return true;  // numpy gives empty arrays arbitrary (often zero) strides
    int64_t expected = 1;
    for (int64_t i = rank() - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[i] != expected) return false;
      expected *= shape[i];
    }
    return true;
  }
};

using ConstView = TensorView<const float>;
using MutView = TensorView<float>;

std::string shape_str(const Shape& shape);

// Throws std::invalid_argument (ValueError in Python) "name: expected ..., got shape (...)".
[[noreturn]] void fail_shape(const char* name, const std::string& expected, const Shape& got);

template <class T>
void expect_shape(const char* name, const TensorView<T>& t, const Shape& expected) {
  if (t.shape != expected) fail_shape(name, "shape " + shape_str(expected), t.shape);
}

template <class T>
void expect_rank(const char* name, const TensorView<T>& t, int64_t rank) {
  if (t.rank() != rank) fail_shape(name, std::to_string(rank) + "-D array", t.shape);
}

template <class T>
void expect_rank_at_least(const char* name, const TensorView<T>& t, int64_t rank) {
  if (t.rank() < rank) fail_shape(name, "at least " + std::to_string(rank) + "-D array", t.shape);
}

template <class T>
void expect_contiguous(const char* name, const TensorView<T>& t) {
  if (!t.contiguous())
    throw std::invalid_argument(std::string(name) + ": expected a C-contiguous array");
}

template <class T>
void expect_unit_last_stride(const char* name, const TensorView<T>& t) {
  if (t.numel() > 0 && t.dim(-1) > 1 && t.stride(-1) != 1)  // empty arrays: any strides
    throw std::invalid_argument(std::string(name) + ": the last axis must be contiguous");
}

}  // namespace pt::ops
