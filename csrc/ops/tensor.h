// A non-owning view of a float32 (or int64 / uint8) array: pointer, shape and element strides.
// The op fronts take views, check them, and hand raw pointers to the kernels.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
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

// The bytes [begin, end) that a view's elements occupy at most (strides may be negative);
// begin == end for an empty view.
template <class T>
std::pair<uintptr_t, uintptr_t> byte_extent(const TensorView<T>& t) {
  if (t.numel() == 0) return {0, 0};
  intptr_t low = 0, high = 0;  // element offsets of the first and last element reachable
  for (int64_t i = 0; i < t.rank(); ++i) {
    const intptr_t reach = static_cast<intptr_t>((t.dim(i) - 1) * t.stride(i));
    (reach < 0 ? low : high) += reach;
  }
  const auto base = reinterpret_cast<uintptr_t>(t.data);
  return {base + low * static_cast<intptr_t>(sizeof(T)),
          base + (high + 1) * static_cast<intptr_t>(sizeof(T))};
}

// Throws unless the output shares no memory with an input: a kernel that writes its output
// while it still reads the input would read its own results back.
template <class A, class B>
void expect_disjoint(const char* out_name, const TensorView<A>& out, const char* in_name,
                     const TensorView<B>& in) {
  const auto [out_begin, out_end] = byte_extent(out);
  const auto [in_begin, in_end] = byte_extent(in);
  if (out_begin < in_end && in_begin < out_end)
    throw std::invalid_argument(std::string(out_name) + ": expected memory apart from " +
                                in_name + "'s, got overlapping arrays");
}

template <class T>
void expect_unit_last_stride(const char* name, const TensorView<T>& t) {
  if (t.numel() > 0 && t.dim(-1) > 1 && t.stride(-1) != 1)  // empty arrays: any strides
    throw std::invalid_argument(std::string(name) + ": the last axis must be contiguous");
}

}  // namespace pt::ops
