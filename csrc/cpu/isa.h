// Which instruction set the kernels run with. Decided once (at import, honouring
// PYTRANSFORMER_ISA) and changeable only through set_isa, which the tests use to run every path.
#pragma once
#include <string>
#include <vector>

#include "kernels/kernel_table.h"

namespace pt {

// ISAs this CPU (and OS) can run, best first; "scalar" is always last.
std::vector<std::string> supported_isas();

// The kernels of the active ISA.
const KernelTable& kernels();

// Makes `name` ("avx512", "avx2", "scalar") active; throws std::invalid_argument for an unknown
// name and std::runtime_error for one this CPU cannot run.
void set_isa(const std::string& name);

}  // namespace pt
