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

// int8 GEMM variants this CPU can run, best first ("avx512_amx", "avx512_vnni", "avx512bw",
// "avx2", "scalar").
std::vector<std::string> supported_int8_kernels();

// The int8 GEMM new int8 layers use: the one set_int8_kernel chose, else the active ISA's: for
// "avx512", the AMX variant when the CPU and the OS allow AMX, else the VNNI variant when the
// CPU has VNNI.
const GemmS8Kernels& int8_kernels();

// Makes int8_kernels() return the named variant (throws as int8_kernels(name) does), or, for an
// empty name, the active ISA's again. Layers built before keep the variant they packed for.
void set_int8_kernel(const std::string& name);

// A named int8 variant (tests run each one); throws as set_isa does.
const GemmS8Kernels& int8_kernels(const std::string& name);

}  // namespace pt
