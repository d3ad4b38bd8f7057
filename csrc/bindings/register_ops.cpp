// The stateless ops. Each binding: views of the numpy inputs, a new output array, the op front
// called with the GIL released.
#include "bindings/common.h"
#include "bindings/register.h"
#include "ops/activations.h"
#include "ops/attention.h"
#include "ops/embedding.h"
#include "ops/layer_norm.h"
#include "ops/rotary.h"
#include "ops/softmax.h"

namespace pt::bindings {
namespace {

py::object norm(bool rms, const py::array& x, const py::array& weight, const py::object& bias,
                float eps, const py::object& residual, bool return_sum) {
  const auto xv = view<float>(x, "x");
  const auto wv = view<float>(weight, "weight");
  const auto bv = optional_view<float>(bias, "bias");
  const auto rv = optional_view<float>(residual, "residual");
  auto out = new_array(xv.shape);
  auto out_v = mutable_view(out);
  py::array_t<float> sum;
  std::optional<ops::MutView> sum_v;
  if (return_sum) {
    sum = new_array(xv.shape);
    sum_v = mutable_view(sum);
  }
  {
    py::gil_scoped_release release;
    if (rms)
      ops::rms_norm(xv, ptr(rv), wv, eps, out_v, ptr(sum_v));
    else
      ops::layer_norm(xv, ptr(rv), wv, ptr(bv), eps, out_v, ptr(sum_v));
  }
  if (return_sum) return py::make_tuple(out, sum);
  return std::move(out);
}

py::array_t<float> activation(const py::array& x, Activation act) {
  const auto xv = view<float>(x, "x");
  auto out = new_array(xv.shape);
  auto out_v = mutable_view(out);
  py::gil_scoped_release release;
  ops::activation(xv, act, out_v);
  return out;
}

}  // namespace

void register_ops(py::module_& m) {
  m.def(
      "layer_norm",
      [](const py::array& x, const py::array& weight, const py::object& bias, float eps,
         const py::object& residual, bool return_sum) {
        return norm(false, x, weight, bias, eps, residual, return_sum);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("eps"), py::arg("residual"),
      py::arg("return_sum") = false);
  m.def(
      "rms_norm",
      [](const py::array& x, const py::array& weight, float eps, const py::object& residual,
         bool return_sum) { return norm(true, x, weight, py::none(), eps, residual, return_sum); },
      py::arg("x"), py::arg("weight"), py::arg("eps"), py::arg("residual"),
      py::arg("return_sum") = false);

  m.def(
      "softmax",
      [](const py::array& x) {
        const auto xv = view<float>(x, "x");
        auto out = new_array(xv.shape);
        auto out_v = mutable_view(out);
        py::gil_scoped_release release;
        ops::softmax(xv, out_v);
        return out;
      },
      py::arg("x"));

  m.def("activation", &activation, py::arg("x"), py::arg("activation"));
  m.def(
      "gated_activation",
      [](const py::array& gate, const py::array& up, Activation act) {
        const auto gv = view<float>(gate, "gate");
        const auto uv = view<float>(up, "up");
        auto out = new_array(gv.shape);
        auto out_v = mutable_view(out);
        py::gil_scoped_release release;
        ops::gated_activation(gv, uv, act, out_v);
        return out;
      },
      py::arg("gate"), py::arg("up"), py::arg("activation"));

  m.def(
      "embedding",
      [](const py::array& ids, const py::array& table, float scale) {
        const auto iv = view<int64_t>(ids, "ids");
        const auto tv = view<float>(table, "table");
        ops::Shape shape = iv.shape;
        shape.push_back(tv.rank() == 2 ? tv.dim(1) : 0);
        auto out = new_array(shape);
        auto out_v = mutable_view(out);
        py::gil_scoped_release release;
        ops::embedding(iv, tv, scale, out_v);
        return out;
      },
      py::arg("ids"), py::arg("table"), py::arg("scale") = 1.0f);

  m.def(
      "sinusoidal_positions",
      [](int64_t length, int64_t dim) {
        if (length < 0 || dim < 0) throw py::value_error("length and dim must be non-negative");
        auto out = new_array({length, dim});
        auto out_v = mutable_view(out);
        py::gil_scoped_release release;
        ops::sinusoidal_positions(out_v);
        return out;
      },
      py::arg("length"), py::arg("dim"));

  m.def(
      "rotary",
      [](const py::array& x, const py::array& positions, float base, int64_t rotary_dim) {
        const auto xv = view<float>(x, "x");
        const auto pv = view<int64_t>(positions, "positions");
        auto out = new_array(xv.shape);
        auto out_v = mutable_view(out);
        py::gil_scoped_release release;
        ops::rotary(xv, pv, base, out_v, rotary_dim);
        return out;
      },
      py::arg("x"), py::arg("positions"), py::arg("base") = 10000.0f, py::arg("rotary_dim") = 0);

  m.def(
      "attention",
      [](const py::array& q, const py::array& k, const py::array& v,
         const py::object& key_padding_mask, bool causal, const py::object& bias, float scale,
         const py::object& out, const py::object& q_offsets, const py::object& k_offsets,
         int64_t sliding_window) {
        const auto qv = view<float>(q, "q");
        const auto kv = view<float>(k, "k");
        const auto vv = view<float>(v, "v");
        const auto mv = optional_view<uint8_t>(key_padding_mask, "key_padding_mask");
        const auto bv = optional_view<float>(bias, "attn_bias");
        const auto qo = optional_view<int64_t>(q_offsets, "q_offsets");
        const auto ko = optional_view<int64_t>(k_offsets, "k_offsets");
        py::array result;
        ops::MutView out_v;
        if (out.is_none()) {
          auto fresh = new_array(qv.shape);
          out_v = mutable_view(fresh);
          result = fresh;
        } else {
          if (!py::isinstance<py::array>(out))
            throw py::type_error("out: expected a numpy array or None");
          result = out.cast<py::array>();
          out_v = mutable_view(result, "out");
        }
        {
          py::gil_scoped_release release;
          ops::attention(qv, kv, vv, ptr(mv), causal, ptr(bv), scale, out_v, ptr(qo), ptr(ko),
                         sliding_window);
        }
        return result;
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("key_padding_mask"), py::arg("causal"),
      py::arg("attn_bias"), py::arg("scale"), py::arg("out") = py::none(),
      py::arg("q_offsets") = py::none(), py::arg("k_offsets") = py::none(),
      py::arg("sliding_window") = 0);
}

}  // namespace pt::bindings
