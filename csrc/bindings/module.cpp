// pytransformer._core: the C++ half of pytransformer. Python code should use the public package
// (pytransformer, pytransformer.ops), which checks and converts arguments before calling here.
#include "bindings/register.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "pytransformer C++ kernels (private: use pytransformer.ops)";
  pt::bindings::register_runtime(m);
  pt::bindings::register_ops(m);
  pt::bindings::register_linear(m);
  pt::bindings::register_linear_int8(m);
  pt::bindings::register_kv_cache(m);
  pt::bindings::register_layer(m);
  pt::bindings::register_machine_peaks(m);
}
