// PackedLinearInt8 (compute_type="int8") and the int8 variants' names and row quantization.
#include <optional>
#include <string>

#include <pybind11/stl.h>

#include "bindings/common.h"
#include "bindings/register.h"
#include "cpu/isa.h"
#include "ops/linear_int8.h"

namespace pt::bindings {
namespace {

const GemmS8Kernels* kernels_named(const std::optional<std::string>& name) {
  return name ? &int8_kernels(*name) : nullptr;
}

}  // namespace

void register_linear_int8(py::module_& m) {
  m.def("supported_int8_kernels", &supported_int8_kernels,
        "int8 GEMM variants this CPU can run, best first");
  m.def(
      "set_int8_kernel",
      [](const std::optional<std::string>& name) { set_int8_kernel(name.value_or("")); },
      py::arg("name"),
      "the int8 GEMM variant new int8 layers use (None: the active ISA's best again)");
  m.def("int8_kernel", [] { return std::string(int8_kernels().name); },
        "the int8 GEMM variant new int8 layers use");
  m.def(
      "quantize_rows",
      [](const py::array& x, const std::optional<std::string>& kernel) {
        const auto xv = view<float>(x, "x");
        const GemmS8Kernels* k = kernels_named(kernel);
        auto q = new_array<int8_t>(xv.shape);
        ops::Shape scale_shape = xv.shape;
        if (!scale_shape.empty()) scale_shape.pop_back();
        auto scales = new_array(scale_shape);
        int8_t* qp = q.mutable_data();
        float* sp = scales.mutable_data();
        {
          py::gil_scoped_release release;
          ops::quantize_rows(xv, qp, sp, k);
        }
        return py::make_tuple(q, scales);
      },
      py::arg("x"), py::arg("kernel") = py::none());

  py::class_<ops::PackedLinearInt8, std::shared_ptr<ops::PackedLinearInt8>>(m, "PackedLinearInt8")
      .def(py::init([](const py::array& weight, const py::array& scales, const py::object& bias,
                       const std::optional<std::string>& kernel) {
             const auto wv = view<int8_t>(weight, "weight");
             const auto sv = view<float>(scales, "scales");
             const auto bv = optional_view<float>(bias, "bias");
             const GemmS8Kernels* k = kernels_named(kernel);
             py::gil_scoped_release release;
             return new ops::PackedLinearInt8(wv, sv, ptr(bv), k);
           }),
           py::arg("weight"), py::arg("scales"), py::arg("bias") = py::none(),
           py::arg("kernel") = py::none())
      .def("forward", &linear_forward<ops::PackedLinearInt8>, py::arg("x"),
           py::arg("activation") = Activation::none, py::arg("residual") = py::none())
      .def(
          "accumulators",
          [](const py::handle& obj, const py::array& x) {
            const auto& self = constructed<ops::PackedLinearInt8>(obj, "self");
            const auto xv = view<float>(x, "x");
            auto acc = new_array<int32_t>(with_last_dim(xv.shape, self.out_features()));
            int32_t* p = acc.mutable_data();
            py::gil_scoped_release release;
            self.accumulators(xv, p);
            return acc;
          },
          py::arg("x"))
      .def_property_readonly("in_features", property_of(&ops::PackedLinearInt8::in_features))
      .def_property_readonly("out_features", property_of(&ops::PackedLinearInt8::out_features))
      .def_property_readonly("has_bias", property_of(&ops::PackedLinearInt8::has_bias))
      .def_property_readonly("kernel", property_of(&ops::PackedLinearInt8::kernel));
}

}  // namespace pt::bindings
