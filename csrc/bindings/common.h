// numpy <-> view conversion shared by the binding files. Type problems raise TypeError, shape
// and layout problems ValueError; both name the argument.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bindings/constructed.h"
#include "kernels/activation.h"
#include "ops/tensor.h"

namespace pt::bindings {

namespace py = pybind11;

// A view of `a`, which must have dtype T (float32, int64, or uint8/bool for uint8_t).
template <class T>
ops::TensorView<const T> view(const py::array& a, const char* name);

// As view(), for an argument that may be None.
template <class T>
std::optional<ops::TensorView<const T>> optional_view(const py::object& a, const char* name) {
  if (a.is_none()) return std::nullopt;
  if (!py::isinstance<py::array>(a))
    throw py::type_error(std::string(name) + ": expected a numpy array or None");
  return view<T>(a.cast<py::array>(), name);
}

// A new C-contiguous array of `shape` (float32 unless T says otherwise), its data aligned to a
// cache line. NumPy puts a large array 16 bytes past a page boundary, so every row of a GEMM
// output would start mid-line and each of its vector stores would split across two lines:
// measured, the GEMM of a [4096, 1536] output then spends ~15% more time. The array is a view
// into a slightly larger one, which it keeps alive as its base.
template <class T = float>
py::array_t<T> new_array(const ops::Shape& shape) {
  constexpr py::ssize_t kAlign = 64;
  py::ssize_t count = 1;
  for (const auto d : shape) count *= d;
  py::array_t<T> storage(count + kAlign / static_cast<py::ssize_t>(sizeof(T)));
  const auto address = reinterpret_cast<std::uintptr_t>(storage.mutable_data());
  const auto skip = static_cast<py::ssize_t>((kAlign - address % kAlign) % kAlign / sizeof(T));
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t stride = sizeof(T);
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return py::array_t<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()), strides,
                        storage.mutable_data() + skip, storage);
}
// A mutable view of a new float32 array.
ops::MutView mutable_view(py::array_t<float>& a);
// A mutable view of a caller-supplied float32 output array.
ops::MutView mutable_view(const py::array& a, const char* name);

template <class T>
const T* ptr(const std::optional<T>& o) {
  return o ? &*o : nullptr;
}

// x's shape with the last dimension replaced by n (a Linear layer's output shape).
inline ops::Shape with_last_dim(ops::Shape shape, int64_t n) {
  if (!shape.empty()) shape.back() = n;
  return shape;
}

// The forward binding of a Linear layer (float32 or int8): [..., in] -> new [..., out] array.
template <class Layer>
py::array_t<float> linear_forward(const py::handle& self, const py::array& x, Activation act,
                                  const py::object& residual) {
  const Layer& layer = constructed<Layer>(self, "self");
  const auto xv = view<float>(x, "x");
  const auto rv = optional_view<float>(residual, "residual");
  auto out = new_array(with_last_dim(xv.shape, layer.out_features()));
  auto out_v = mutable_view(out);
  py::gil_scoped_release release;
  layer.forward(xv, act, ptr(rv), out_v);
  return out;
}

}  // namespace pt::bindings
