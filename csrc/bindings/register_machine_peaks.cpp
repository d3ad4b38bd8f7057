// The machine-peak measurements behind the benchmark's %peak figures (pytransformer bench).
#include "bindings/common.h"
#include "bindings/register.h"
#include "ops/machine_peaks.h"

namespace pt::bindings {

void register_machine_peaks(py::module_& m) {
  m.def("measure_fma_gflops", &ops::measure_fma_gflops, py::arg("threads"), py::arg("seconds"),
        py::call_guard<py::gil_scoped_release>(),
        "fp32 FMA throughput of `threads` threads with the active ISA's vectors, GFLOP/s: the "
        "best of a few trials lasting `seconds` in all.");
  m.def("measure_read_gbps", &ops::measure_read_gbps, py::arg("threads"), py::arg("bytes"),
        py::arg("repeats"), py::call_guard<py::gil_scoped_release>(),
        "Streaming read bandwidth of `threads` threads summing a `bytes` buffer, GB/s: the best "
        "of `repeats` passes.");
}

}  // namespace pt::bindings
