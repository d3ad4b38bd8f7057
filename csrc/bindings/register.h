#pragma once
#include <pybind11/pybind11.h>

namespace pt::bindings {

void register_runtime(pybind11::module_& m);
void register_ops(pybind11::module_& m);
void register_linear(pybind11::module_& m);
void register_linear_int8(pybind11::module_& m);
void register_kv_cache(pybind11::module_& m);
void register_layer(pybind11::module_& m);
void register_machine_peaks(pybind11::module_& m);

}  // namespace pt::bindings
