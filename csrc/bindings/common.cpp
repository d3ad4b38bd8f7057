#include "bindings/common.h"

namespace pt::bindings {
namespace {

template <class T>
bool dtype_matches(const py::dtype& dt) {
  if constexpr (std::is_same_v<T, uint8_t>)
    return dt.equal(py::dtype::of<uint8_t>()) || dt.equal(py::dtype::of<bool>());
  else
    return dt.equal(py::dtype::of<T>());
}

template <class T>
const char* dtype_name() {
  if constexpr (std::is_same_v<T, float>) return "float32";
  if constexpr (std::is_same_v<T, int64_t>) return "int64";
  if constexpr (std::is_same_v<T, int8_t>) return "int8";
  return "bool or uint8";
}

ops::Shape shape_of(const py::array& a) {
  return ops::Shape(a.shape(), a.shape() + a.ndim());
}

ops::Shape strides_of(const py::array& a, const char* name) {
  ops::Shape strides(a.ndim());
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (a.strides(i) % static_cast<py::ssize_t>(a.itemsize()) != 0)
      throw py::value_error(std::string(name) + ": strides must be multiples of the item size");
    strides[i] = a.strides(i) / a.itemsize();
  }
  return strides;
}

}  // namespace

template <class T>
ops::TensorView<const T> view(const py::array& a, const char* name) {
  if (!dtype_matches<T>(a.dtype()))
    throw py::type_error(std::string(name) + ": expected a " + dtype_name<T>() +
                         " array, got dtype " + py::str(a.dtype()).cast<std::string>());
  return {static_cast<const T*>(a.data()), shape_of(a), strides_of(a, name)};
}

template ops::TensorView<const float> view<float>(const py::array&, const char*);
template ops::TensorView<const int64_t> view<int64_t>(const py::array&, const char*);
template ops::TensorView<const uint8_t> view<uint8_t>(const py::array&, const char*);
template ops::TensorView<const int8_t> view<int8_t>(const py::array&, const char*);

ops::MutView mutable_view(py::array_t<float>& a) {
  return {a.mutable_data(), shape_of(a), strides_of(a, "out")};
}

ops::MutView mutable_view(const py::array& a, const char* name) {
  if (!dtype_matches<float>(a.dtype()))
    throw py::type_error(std::string(name) + ": expected a float32 array, got dtype " +
                         py::str(a.dtype()).cast<std::string>());
  if (!a.writeable()) throw py::value_error(std::string(name) + ": array is read-only");
  return {static_cast<float*>(const_cast<void*>(a.data())), shape_of(a), strides_of(a, name)};
}

}  // namespace pt::bindings
