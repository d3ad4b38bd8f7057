// Access to the C++ object behind a Python object of a bound class, refusing one whose C++
// constructor never ran. Shared by the CPU (_core) and CUDA (_cuda) modules.
#pragma once
#include <pybind11/pybind11.h>

#include <string>

namespace pt::bindings {

namespace py = pybind11;

// The C++ object behind `obj`, a Python object of a class bound with py::class_<T>. Throws
// TypeError naming `name` if obj is not one, or if its C++ constructor never ran: pybind11
// (through 3.1, pybind/pybind11#6153) lets T.__new__(T) make such an object and would hand its
// raw, unconstructed storage to a method as a T.
template <class T>
T& constructed(const py::handle& obj, const char* name) {
  if (!py::isinstance<T>(obj))
    throw py::type_error(std::string(name) + ": expected a " +
                         py::str(py::type::of<T>().attr("__name__")).cast<std::string>() +
                         ", got " + py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  auto* instance = reinterpret_cast<py::detail::instance*>(obj.ptr());
  const auto v_h = instance->get_value_and_holder(py::detail::get_type_info(typeid(T)));
  if (!v_h.holder_constructed())
    throw py::type_error(std::string(name) + ": this " +
                         py::str(py::type::of(obj).attr("__name__")).cast<std::string>() +
                         " was never initialised (made by __new__ without __init__)");
  return *v_h.template value_ptr<T>();
}

// A read-only property of T from one of its const member functions, on a checked object.
template <class T, class R>
auto property_of(R (T::*getter)() const) {
  return [getter](const py::handle& self) { return (constructed<T>(self, "self").*getter)(); };
}

}  // namespace pt::bindings
