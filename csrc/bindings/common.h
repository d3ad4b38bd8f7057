// numpy <-> view conversion shared by the binding files. Type problems raise TypeError, shape
// and layout problems ValueError; both name the argument.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>

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

// A new C-contiguous array of `shape` (float32 unless T says otherwise).
template <class T = float>
py::array_t<T> new_array(const ops::Shape& shape) {
  return py::array_t<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
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
py::array_t<float> linear_forward(const Layer& layer, const py::array& x, Activation act,
                                  const py::object& residual) {
  const auto xv = view<float>(x, "x");
  const auto rv = optional_view<float>(residual, "residual");
  auto out = new_array(with_last_dim(xv.shape, layer.out_features()));
  auto out_v = mutable_view(out);
  py::gil_scoped_release release;
  layer.forward(xv, act, ptr(rv), out_v);
  return out;
}

}  // namespace pt::bindings
