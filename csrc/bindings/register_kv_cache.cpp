// KVCache: preallocated per-layer key/value storage for decoding. keys()/values() return numpy
// views of the C++ storage (kept alive by the cache object) over the positions written so far:
// the storage is not cleared, and past those positions may hold a freed cache's keys.
#include <pybind11/stl.h>

#include "bindings/common.h"
#include "bindings/register.h"
#include "model/kv_cache.h"

namespace pt::bindings {
namespace {

py::array storage_view(const py::object& self, int64_t layer, bool values) {
  const auto& cache = constructed<model::KVCache>(self, "self");
  if (layer < 0 || layer >= cache.layers())
    throw py::value_error("layer: " + std::to_string(layer) + " is outside [0, " +
                          std::to_string(cache.layers()) + ")");
  const py::ssize_t f = sizeof(float);
  const std::vector<py::ssize_t> shape{cache.rows(), cache.kv_heads(), cache.written(layer),
                                       cache.head_dim()};
  const std::vector<py::ssize_t> strides{cache.kv_heads() * cache.max_length() * cache.head_dim() * f,
                                         cache.max_length() * cache.head_dim() * f,
                                         cache.head_dim() * f, f};
  return py::array(py::dtype::of<float>(), shape, strides, cache.data(layer, values), self);
}

}  // namespace

void register_kv_cache(py::module_& m) {
  py::class_<model::KVCache>(m, "KVCache")
      .def(py::init<int64_t, int64_t, int64_t, int64_t, int64_t>(), py::arg("layers"),
           py::arg("rows"), py::arg("kv_heads"), py::arg("max_length"), py::arg("head_dim"))
      .def(
          "write",
          [](const py::handle& obj, int64_t layer, const py::array& k, const py::array& v,
             int64_t start) {
            auto& self = constructed<model::KVCache>(obj, "self");
            const auto kv = view<float>(k, "k");
            const auto vv = view<float>(v, "v");
            py::gil_scoped_release release;
            self.write(layer, kv, vv, start);
          },
          py::arg("layer"), py::arg("k"), py::arg("v"), py::arg("start"))
      .def(
          "reorder",
          [](const py::handle& obj, const std::vector<int64_t>& sources, int64_t length) {
            auto& self = constructed<model::KVCache>(obj, "self");
            py::gil_scoped_release release;
            self.reorder(sources, length);
          },
          py::arg("sources"), py::arg("length"))
      .def("keys", [](const py::object& self, int64_t layer) { return storage_view(self, layer, false); },
           py::arg("layer"))
      .def("values", [](const py::object& self, int64_t layer) { return storage_view(self, layer, true); },
           py::arg("layer"))
      .def_property_readonly("layers", property_of(&model::KVCache::layers))
      .def_property_readonly("rows", property_of(&model::KVCache::rows))
      .def_property_readonly("max_length", property_of(&model::KVCache::max_length))
      .def_property_readonly("nbytes", property_of(&model::KVCache::bytes));
  m.def("release_spare_kv_storage", &model::release_spare_kv_storage,
        "Frees the storage kept from the last KV cache freed; returns its bytes (0 if none).");
}

}  // namespace pt::bindings
