// ISA selection, threads, and the enums shared with Python.
#include "bindings/common.h"
#include "bindings/register.h"
#include "cpu/isa.h"
#include "cpu/threading.h"
#include "kernels/activation.h"

#include <pybind11/stl.h>

namespace pt::bindings {

void register_runtime(py::module_& m) {
  m.def("cpu_isa", [] { return std::string(kernels().isa); },
        "The instruction set the kernels run with: 'avx512', 'avx2' or 'scalar'.");
  m.def("supported_isas", &supported_isas, "ISAs this CPU can run, best first.");
  m.def("set_isa", &set_isa, py::arg("name"),
        "Switch every later call to the kernels of `name`.");
  m.def("get_num_threads", &num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def(
      "empty",
      [](const ops::Shape& shape) {
        for (const auto d : shape)
          if (d < 0) throw py::value_error("shape: dimensions must be >= 0");
        return new_array(shape);
      },
      py::arg("shape"),
      "An uninitialised float32 array aligned to a cache line, as the kernels' outputs are.");

  py::enum_<Activation>(m, "Activation")
      .value("none", Activation::none)
      .value("relu", Activation::relu)
      .value("gelu", Activation::gelu)
      .value("gelu_tanh", Activation::gelu_tanh)
      .value("silu", Activation::silu);
}

}  // namespace pt::bindings
