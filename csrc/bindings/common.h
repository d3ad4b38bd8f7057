// numpy <-> view conversion shared by the binding files. Type problems raise TypeError, shape
// and layout problems ValueError; both name the argument.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>

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

// A new C-contiguous float32 array of `shape`, and a mutable view of it.
py::array_t<float> new_array(const ops::Shape& shape);
ops::MutView mutable_view(py::array_t<float>& a);
// A mutable view of a caller-supplied float32 output array.
ops::MutView mutable_view(const py::array& a, const char* name);

template <class T>
const T* ptr(const std::optional<T>& o) {
  return o ? &*o : nullptr;
}

}  // namespace pt::bindings
