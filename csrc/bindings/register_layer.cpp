// TransformerLayer: a whole layer in one call (see csrc/model/transformer_layer.h), built from
// the PackedLinear / PackedLinearInt8 objects the model layer has packed, and Norm weights.
#include <cmath>
#include <memory>
#include <optional>

#include <pybind11/stl.h>

#include "bindings/common.h"
#include "bindings/register.h"
#include "model/transformer_layer.h"

namespace pt::bindings {
namespace {

model::Linear linear_of(const py::object& layer, const char* name) {
  if (py::isinstance<ops::PackedLinear>(layer)) {
    constructed<ops::PackedLinear>(layer, name);  // before its holder is copied
    return model::Linear(layer.cast<std::shared_ptr<ops::PackedLinear>>());
  }
  if (py::isinstance<ops::PackedLinearInt8>(layer)) {
    constructed<ops::PackedLinearInt8>(layer, name);
    return model::Linear(layer.cast<std::shared_ptr<ops::PackedLinearInt8>>());
  }
  throw py::type_error(std::string(name) + ": expected a PackedLinear or PackedLinearInt8, got " +
                       py::str(py::type::of(layer)).cast<std::string>());
}

std::vector<float> vector_of(const py::array& a, const char* name) {
  const auto v = view<float>(a, name);
  ops::expect_rank(name, v, 1);
  std::vector<float> out(static_cast<size_t>(v.dim(0)));
  for (int64_t i = 0; i < v.dim(0); ++i) out[i] = v.data[i * v.stride(0)];
  return out;
}

model::Norm norm_of(const py::object& norm, const char* name) {
  return constructed<model::Norm>(norm, name);
}

py::array_t<float> forward(const py::handle& self, const py::array& h,
                           const py::object& offsets, const py::object& positions,
                           const py::object& key_padding_mask, bool causal,
                           const py::object& attention_bias, const py::object& cache,
                           int64_t cache_layer, int64_t cache_start,
                           const py::object& memory_k, const py::object& memory_v,
                           const py::object& memory_offsets) {
  const auto& layer = constructed<model::TransformerLayer>(self, "self");
  const auto hv = view<float>(h, "h");
  const auto offsets_v = optional_view<int64_t>(offsets, "offsets");
  const auto positions_v = optional_view<int64_t>(positions, "positions");
  const auto mask_v = optional_view<uint8_t>(key_padding_mask, "key_padding_mask");
  const auto bias_v = optional_view<float>(attention_bias, "attention_bias");
  const auto memory_k_v = optional_view<float>(memory_k, "memory_k");
  const auto memory_v_v = optional_view<float>(memory_v, "memory_v");
  const auto memory_offsets_v = optional_view<int64_t>(memory_offsets, "memory_offsets");
  model::LayerInputs in;
  in.offsets = ptr(offsets_v);
  in.positions = ptr(positions_v);
  in.key_padding_mask = ptr(mask_v);
  in.causal = causal;
  in.attention_bias = ptr(bias_v);
  if (!cache.is_none()) in.cache = &constructed<model::KVCache>(cache, "cache");
  in.cache_layer = cache_layer;
  in.cache_start = cache_start;
  in.memory_k = ptr(memory_k_v);
  in.memory_v = ptr(memory_v_v);
  in.memory_offsets = ptr(memory_offsets_v);
  auto out = new_array(hv.shape);
  auto out_v = mutable_view(out);
  py::gil_scoped_release release;
  layer.forward(hv, in, out_v);
  return out;
}

}  // namespace

void register_layer(py::module_& m) {
  py::class_<model::Norm>(m, "Norm")
      .def(py::init([](const py::array& weight, const py::object& bias, float eps, bool rms) {
             if (!(eps >= 0.0f)) throw py::value_error("eps: expected a non-negative number");
             model::Norm norm;
             norm.rms = rms;
             norm.eps = eps;
             norm.gamma = vector_of(weight, "weight");
             if (!bias.is_none()) {
               if (rms) throw py::value_error("bias: RMSNorm has no bias");
               norm.beta = vector_of(bias.cast<py::array>(), "bias");
               if (norm.beta.size() != norm.gamma.size())
                 throw py::value_error("bias: expected as many features as weight");
             }
             return norm;
           }),
           py::arg("weight"), py::arg("bias") = py::none(), py::arg("eps") = 1e-5f,
           py::arg("rms") = false);

  py::class_<model::TransformerLayer>(m, "TransformerLayer")
      .def(py::init([](int64_t heads, int64_t kv_heads, int64_t head_dim, bool pre_norm,
                       std::optional<float> rotary_base, int64_t rotary_dim,
                       bool parallel_residual, int64_t sliding_window,
                       std::optional<float> attention_scale, Activation activation,
                       const py::object& qkv, const py::object& out, const py::object& self_norm,
                       const py::object& q_norm, const py::object& k_norm,
                       const py::object& up, const py::object& gate, const py::object& down,
                       const py::object& ffn_norm, const py::object& cross_q,
                       const py::object& cross_out, const py::object& cross_norm) {
             model::LayerShape shape;
             shape.heads = heads, shape.kv_heads = kv_heads, shape.head_dim = head_dim;
             shape.pre_norm = pre_norm;
             shape.rotary_base = rotary_base;
             shape.rotary_dim = rotary_dim;
             shape.parallel_residual = parallel_residual;
             if (sliding_window < 0)
               throw py::value_error("sliding_window: expected 0 (none) or a positive key count");
             shape.sliding_window = sliding_window;
             if (attention_scale && !std::isfinite(*attention_scale))
               throw py::value_error("attention_scale: expected a finite number or None");
             shape.attention_scale = attention_scale;
             shape.activation = activation;
             model::SelfAttentionWeights self{linear_of(qkv, "qkv"), linear_of(out, "out"),
                                              norm_of(self_norm, "self_norm")};
             if (!q_norm.is_none()) self.q_norm = norm_of(q_norm, "q_norm");
             if (!k_norm.is_none()) self.k_norm = norm_of(k_norm, "k_norm");
             std::optional<model::CrossAttentionWeights> cross;
             if (cross_q.is_none() && !(cross_out.is_none() && cross_norm.is_none()))
               throw py::value_error("cross_q: cross_out and cross_norm were given without it");
             if (!cross_q.is_none())
               cross = model::CrossAttentionWeights{linear_of(cross_q, "cross_q"),
                                                    linear_of(cross_out, "cross_out"),
                                                    norm_of(cross_norm, "cross_norm")};
             std::optional<model::Linear> gate_linear;
             if (!gate.is_none()) gate_linear = linear_of(gate, "gate");
             model::FeedForwardWeights ffn{linear_of(up, "up"), gate_linear,
                                           linear_of(down, "down"), norm_of(ffn_norm, "ffn_norm")};
             return new model::TransformerLayer(shape, std::move(self), std::move(cross),
                                                std::move(ffn));
           }),
           py::kw_only(), py::arg("heads"), py::arg("kv_heads"), py::arg("head_dim"),
           py::arg("pre_norm"), py::arg("rotary_base") = py::none(), py::arg("rotary_dim") = 0,
           py::arg("parallel_residual") = false, py::arg("sliding_window") = 0,
           py::arg("attention_scale") = py::none(),
           py::arg("activation") = Activation::none, py::arg("qkv"), py::arg("out"),
           py::arg("self_norm"), py::arg("q_norm") = py::none(), py::arg("k_norm") = py::none(),
           py::arg("up"), py::arg("gate") = py::none(), py::arg("down"),
           py::arg("ffn_norm"), py::arg("cross_q") = py::none(),
           py::arg("cross_out") = py::none(), py::arg("cross_norm") = py::none())
      .def("forward", &forward, py::arg("h"), py::kw_only(), py::arg("offsets") = py::none(),
           py::arg("positions") = py::none(), py::arg("key_padding_mask") = py::none(),
           py::arg("causal") = false, py::arg("attention_bias") = py::none(),
           py::arg("cache") = py::none(), py::arg("cache_layer") = 0,
           py::arg("cache_start") = 0, py::arg("memory_k") = py::none(),
           py::arg("memory_v") = py::none(), py::arg("memory_offsets") = py::none())
      .def_property_readonly("d_model", property_of(&model::TransformerLayer::d_model))
      .def_property_readonly("has_cross_attention",
                             property_of(&model::TransformerLayer::has_cross_attention));
}

}  // namespace pt::bindings
