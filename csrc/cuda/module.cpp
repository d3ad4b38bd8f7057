// pytransformer._cuda: the CUDA half of pytransformer, built only with PYTRANSFORMER_CUDA=ON.
// Private: the Python package wraps device memory in its own array type and calls here.
//
// Device arrays cross this boundary as "views": any Python object with `ptr` (int, device
// address of element 0), `shape`, `strides` (in elements, 0 broadcasts) and `dtype` ("float32",
// "float16", "bfloat16", "int64", "uint8"). They are read into a DeviceView here and checked by
// the op fronts (csrc/cuda/ops.h). Wrong types raise TypeError, wrong shapes or layouts
// ValueError, CUDA and cuBLAS failures RuntimeError, out-of-memory MemoryError.
// Importing touches no driver: a CUDA build imports on a machine without a GPU.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "bindings/constructed.h"

#include "cuda/device.h"
#include "cuda/linear.h"
#include "cuda/ops.h"

namespace py = pybind11;
using namespace pt::cuda;
using pt::bindings::constructed;
using pt::bindings::property_of;

namespace {

DeviceView read_view(const py::handle& obj, const char* name) {
  for (const char* attr : {"ptr", "shape", "strides", "dtype"}) {
    if (!py::hasattr(obj, attr))
      throw py::type_error(std::string(name) + ": expected a device array (ptr, shape, strides, "
                           "dtype), got " + std::string(py::str(py::type::of(obj))));
  }
  DeviceView v;
  try {
    v.ptr = reinterpret_cast<void*>(obj.attr("ptr").cast<uintptr_t>());
    v.shape = obj.attr("shape").cast<std::vector<int64_t>>();
    v.strides = obj.attr("strides").cast<std::vector<int64_t>>();
  } catch (const py::cast_error&) {
    throw py::type_error(std::string(name) +
                         ": ptr must be an int, shape and strides sequences of ints");
  }
  v.dtype = dtype_from_name(py::str(obj.attr("dtype")), name);
  if (v.strides.size() != v.shape.size())
    throw std::invalid_argument(std::string(name) + ": shape " + shape_str(v.shape) +
                                " and strides " + shape_str(v.strides) + " differ in length");
  for (int64_t d : v.shape)
    if (d < 0) throw std::invalid_argument(std::string(name) + ": negative size in shape " +
                                           shape_str(v.shape));
  return v;
}

std::optional<DeviceView> read_optional(const py::handle& obj, const char* name) {
  if (obj.is_none()) return std::nullopt;
  return read_view(obj, name);
}

const DeviceView* ptr(const std::optional<DeviceView>& v) { return v ? &*v : nullptr; }

// A host array that may be copied to or from `v` byte for byte: a numpy array, C-contiguous,
// of v's shape, and of a dtype holding the same values (float16 or bfloat16 may also come as
// uint16 raw bits, uint8 as bool).
py::array host_array(const py::handle& obj, const char* name, const DeviceView& v, bool writable) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(name) + ": expected a numpy array");
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (!(a.flags() & py::array::c_style))
    throw std::invalid_argument(std::string(name) + ": expected a C-contiguous array");
  if (writable && !a.writeable())
    throw std::invalid_argument(std::string(name) + ": expected a writable array");
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  if (shape != v.shape)
    throw std::invalid_argument(std::string(name) + ": expected shape " + shape_str(v.shape) +
                                ", got " + shape_str(shape));
  const char kind = a.dtype().kind();
  const auto size = a.itemsize();
  const std::string dname = py::str(a.dtype());
  bool ok = false;
  switch (v.dtype) {
    case DType::float32: ok = kind == 'f' && size == 4; break;
    case DType::float16: ok = (kind == 'f' || kind == 'u') && size == 2; break;
    case DType::bfloat16: ok = (kind == 'u' && size == 2) || dname == "bfloat16"; break;
    case DType::int64: ok = kind == 'i' && size == 8; break;
    case DType::uint8: ok = (kind == 'u' || kind == 'b') && size == 1; break;
  }
  if (!ok)
    throw py::type_error(std::string(name) + ": numpy dtype " + dname +
                         " does not match the device dtype " + dtype_name(v.dtype));
  return a;
}

void register_runtime(py::module_& m) {
  m.def("device_count", &device_count, "Number of CUDA devices; 0 without a driver or GPU.");
  m.def("runtime_error", &runtime_error,
        "'' when the current device can run this build's kernels, else the reason.");
  m.def("device_name", &device_name, py::arg("index") = 0);
  m.def("set_device", &set_device, py::arg("index"));
  m.def(
      "synchronize",
      [] {
        py::gil_scoped_release release;
        synchronize();
      },
      "Waits for all work issued so far.");
  m.def("memory_info", [] {
    size_t free_bytes = 0, total_bytes = 0;
    memory_info(&free_bytes, &total_bytes);
    return py::make_tuple(free_bytes, total_bytes);
  }, "(free_bytes, total_bytes) of the current device.");
  m.def("empty_cache", &empty_cache, "Frees the cached, unused blocks of every Buffer freed.");

  py::class_<Buffer>(m, "Buffer", "Device memory from the caching allocator.")
      .def(py::init([](int64_t nbytes) {
             if (nbytes < 0) throw std::invalid_argument("nbytes: expected a non-negative size");
             return std::make_unique<Buffer>(static_cast<size_t>(nbytes));
           }),
           py::arg("nbytes"))
      .def_property_readonly("ptr",
                             [](const py::handle& self) {
                               const auto& b = constructed<Buffer>(self, "self");
                               return reinterpret_cast<uintptr_t>(b.ptr());
                             })
      .def_property_readonly("nbytes", property_of(&Buffer::nbytes));
}

void register_copies(py::module_& m) {
  m.def(
      "copy_from_host",
      [](const py::object& dst, const py::object& src) {
        const DeviceView d = read_view(dst, "dst");
        const py::array a = host_array(src, "src", d, false);
        const void* data = a.data();
        const auto nbytes = static_cast<int64_t>(a.nbytes());
        py::gil_scoped_release release;
        copy_from_host(d, data, nbytes);
      },
      py::arg("dst"), py::arg("src"));
  m.def(
      "copy_to_host",
      [](const py::object& src, const py::object& dst) {
        const DeviceView s = read_view(src, "src");
        py::array a = host_array(dst, "dst", s, true);
        void* data = a.mutable_data();
        const auto nbytes = static_cast<int64_t>(a.nbytes());
        py::gil_scoped_release release;
        copy_to_host(s, data, nbytes);
      },
      py::arg("src"), py::arg("dst"));
  m.def(
      "copy",
      [](const py::object& dst, const py::object& src) {
        copy(read_view(dst, "dst"), read_view(src, "src"));
      },
      py::arg("dst"), py::arg("src"));
  m.def(
      "convert",
      [](const py::object& dst, const py::object& src) {
        convert(read_view(dst, "dst"), read_view(src, "src"));
      },
      py::arg("dst"), py::arg("src"));
  m.def(
      "gather_rows",
      [](const py::object& dst, const py::object& src, const py::object& index) {
        gather_rows(read_view(dst, "dst"), read_view(src, "src"), read_view(index, "index"));
      },
      py::arg("dst"), py::arg("src"), py::arg("index"));
  m.def(
      "add",
      [](const py::object& dst, const py::object& a, const py::object& b) {
        add(read_view(dst, "dst"), read_view(a, "a"), read_view(b, "b"));
      },
      py::arg("dst"), py::arg("a"), py::arg("b"));
}

void register_ops(py::module_& m) {
  m.def(
      "layer_norm",
      [](const py::object& out, const py::object& x, const py::object& weight,
         const py::object& bias, float eps, const py::object& residual, const py::object& sum_out) {
        const auto b = read_optional(bias, "bias");
        const auto r = read_optional(residual, "residual");
        const auto s = read_optional(sum_out, "sum_out");
        layer_norm(read_view(out, "out"), read_view(x, "x"), read_view(weight, "weight"), ptr(b),
                   eps, ptr(r), ptr(s));
      },
      py::arg("out"), py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("eps"),
      py::arg("residual") = py::none(), py::arg("sum_out") = py::none());
  m.def(
      "rms_norm",
      [](const py::object& out, const py::object& x, const py::object& weight, float eps,
         const py::object& residual, const py::object& sum_out) {
        const auto r = read_optional(residual, "residual");
        const auto s = read_optional(sum_out, "sum_out");
        rms_norm(read_view(out, "out"), read_view(x, "x"), read_view(weight, "weight"), eps,
                 ptr(r), ptr(s));
      },
      py::arg("out"), py::arg("x"), py::arg("weight"), py::arg("eps"),
      py::arg("residual") = py::none(), py::arg("sum_out") = py::none());
  m.def(
      "gated_activation",
      [](const py::object& out, const py::object& gate, const py::object& up, int activation) {
        gated_activation(read_view(out, "out"), read_view(gate, "gate"), read_view(up, "up"),
                         activation);
      },
      py::arg("out"), py::arg("gate"), py::arg("up"), py::arg("activation"));
  m.def(
      "embedding",
      [](const py::object& out, const py::object& ids, const py::object& table, float scale) {
        embedding(read_view(out, "out"), read_view(ids, "ids"), read_view(table, "table"), scale);
      },
      py::arg("out"), py::arg("ids"), py::arg("table"), py::arg("scale") = 1.0f);
  m.def(
      "rotary",
      [](const py::object& out, const py::object& x, const py::object& positions, float base,
         int64_t rotary_dim) {
        rotary(read_view(out, "out"), read_view(x, "x"), read_view(positions, "positions"), base,
               rotary_dim);
      },
      py::arg("out"), py::arg("x"), py::arg("positions"), py::arg("base"),
      py::arg("rotary_dim") = 0);
  m.def(
      "attention",
      [](const py::object& out, const py::object& q, const py::object& k, const py::object& v,
         const py::object& key_padding_mask, bool causal, const py::object& bias, float scale,
         const py::object& q_offsets, const py::object& k_offsets, int64_t sliding_window) {
        const auto mask = read_optional(key_padding_mask, "key_padding_mask");
        const auto b = read_optional(bias, "bias");
        const auto qo = read_optional(q_offsets, "q_offsets");
        const auto ko = read_optional(k_offsets, "k_offsets");
        attention(read_view(out, "out"), read_view(q, "q"), read_view(k, "k"), read_view(v, "v"),
                  ptr(mask), causal, ptr(b), scale, ptr(qo), ptr(ko), sliding_window);
      },
      py::arg("out"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("key_padding_mask"),
      py::arg("causal"), py::arg("bias"), py::arg("scale"), py::arg("q_offsets") = py::none(),
      py::arg("k_offsets") = py::none(), py::arg("sliding_window") = 0);
}

void register_linear(py::module_& m) {
  py::class_<Linear>(m, "Linear",
                     "out = act(x W^T + bias) + residual through cuBLAS; the weight and bias "
                     "memory must outlive the layer (it keeps only their addresses).")
      .def(py::init([](const py::object& weight, const py::object& bias) {
             const auto b = read_optional(bias, "bias");
             return std::make_unique<Linear>(read_view(weight, "weight"), ptr(b));
           }),
           py::arg("weight"), py::arg("bias") = py::none())
      .def(
          "forward",
          [](const py::handle& obj, const py::object& out, const py::object& x, int activation,
             const py::object& residual) {
            const auto& self = constructed<Linear>(obj, "self");
            const auto r = read_optional(residual, "residual");
            self.forward(read_view(out, "out"), read_view(x, "x"), activation, ptr(r));
          },
          py::arg("out"), py::arg("x"), py::arg("activation") = 0,
          py::arg("residual") = py::none())
      .def_property_readonly("in_features", property_of(&Linear::in_features))
      .def_property_readonly("out_features", property_of(&Linear::out_features))
      .def_property_readonly("dtype", [](const py::handle& self) {
        return dtype_name(constructed<Linear>(self, "self").dtype());
      });
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "pytransformer CUDA kernels (private: use pytransformer's device arrays)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const OutOfMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });
  register_runtime(m);
  register_copies(m);
  register_ops(m);
  register_linear(m);
}
