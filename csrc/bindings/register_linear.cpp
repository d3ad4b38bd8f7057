// PackedLinear: a Linear layer whose weight is packed once for the GEMM micro-kernel.
#include "bindings/common.h"
#include "bindings/register.h"
#include "ops/linear.h"

namespace pt::bindings {

void register_linear(py::module_& m) {
  py::class_<ops::PackedLinear, std::shared_ptr<ops::PackedLinear>>(m, "PackedLinear")
      .def(py::init([](const py::array& weight, const py::object& bias) {
             const auto wv = view<float>(weight, "weight");
             const auto bv = optional_view<float>(bias, "bias");
             py::gil_scoped_release release;
             return new ops::PackedLinear(wv, ptr(bv));
           }),
           py::arg("weight"), py::arg("bias") = py::none())
      .def("forward", &linear_forward<ops::PackedLinear>, py::arg("x"),
           py::arg("activation") = Activation::none, py::arg("residual") = py::none())
      .def_property_readonly("in_features", property_of(&ops::PackedLinear::in_features))
      .def_property_readonly("out_features", property_of(&ops::PackedLinear::out_features))
      .def_property_readonly("has_bias", property_of(&ops::PackedLinear::has_bias))
      .def_property_readonly("isa", property_of(&ops::PackedLinear::isa));
}

}  // namespace pt::bindings
