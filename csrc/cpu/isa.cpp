#include "cpu/isa.h"

#include <atomic>
#include <stdexcept>

namespace pt {
namespace {

bool cpu_has_avx512() {
  // __builtin_cpu_supports also checks that the OS saves the zmm/ymm state (XGETBV).
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool cpu_has_avx512_vnni() { return cpu_has_avx512() && __builtin_cpu_supports("avx512vnni"); }

bool cpu_has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

const KernelTable* best_table() {
  if (cpu_has_avx512()) return &kernel_table_avx512();
  if (cpu_has_avx2()) return &kernel_table_avx2();
  return &kernel_table_scalar();
}

std::atomic<const KernelTable*>& active_table() {
  static std::atomic<const KernelTable*> table{best_table()};
  return table;
}

}  // namespace

std::vector<std::string> supported_isas() {
  std::vector<std::string> isas;
  if (cpu_has_avx512()) isas.push_back("avx512");
  if (cpu_has_avx2()) isas.push_back("avx2");
  isas.push_back("scalar");
  return isas;
}

const KernelTable& kernels() { return *active_table().load(std::memory_order_relaxed); }

void set_isa(const std::string& name) {
  const KernelTable* table = nullptr;
  bool supported = false;
  if (name == "avx512") {
    table = &kernel_table_avx512();
    supported = cpu_has_avx512();
  } else if (name == "avx2") {
    table = &kernel_table_avx2();
    supported = cpu_has_avx2();
  } else if (name == "scalar") {
    table = &kernel_table_scalar();
    supported = true;
  } else {
    throw std::invalid_argument("unknown ISA '" + name +
                                "': expected one of 'avx512', 'avx2', 'scalar'");
  }
  if (!supported) {
    std::string have;
    for (const auto& isa : supported_isas()) have += (have.empty() ? "" : ", ") + isa;
    throw std::runtime_error("this CPU cannot run the '" + name + "' kernels (it supports: " +
                             have + ")");
  }
  active_table().store(table, std::memory_order_relaxed);
}

std::vector<std::string> supported_int8_kernels() {
  std::vector<std::string> names;
  if (cpu_has_avx512_vnni()) names.push_back("avx512_vnni");
  if (cpu_has_avx512()) names.push_back("avx512bw");
  if (cpu_has_avx2()) names.push_back("avx2");
  names.push_back("scalar");
  return names;
}

const GemmS8Kernels& int8_kernels() {
  const KernelTable* table = &kernels();
  if (table == &kernel_table_avx512())
    return cpu_has_avx512_vnni() ? gemm_s8_kernels_avx512vnni() : gemm_s8_kernels_avx512();
  if (table == &kernel_table_avx2()) return gemm_s8_kernels_avx2();
  return gemm_s8_kernels_scalar();
}

const GemmS8Kernels& int8_kernels(const std::string& name) {
  const GemmS8Kernels* found = nullptr;
  bool supported = false;
  if (name == "avx512_vnni") {
    found = &gemm_s8_kernels_avx512vnni();
    supported = cpu_has_avx512_vnni();
  } else if (name == "avx512bw") {
    found = &gemm_s8_kernels_avx512();
    supported = cpu_has_avx512();
  } else if (name == "avx2") {
    found = &gemm_s8_kernels_avx2();
    supported = cpu_has_avx2();
  } else if (name == "scalar") {
    found = &gemm_s8_kernels_scalar();
    supported = true;
  } else {
    throw std::invalid_argument("unknown int8 kernel '" + name +
                                "': expected one of 'avx512_vnni', 'avx512bw', 'avx2', 'scalar'");
  }
  if (!supported) {
    std::string have;
    for (const auto& k : supported_int8_kernels()) have += (have.empty() ? "" : ", ") + k;
    throw std::runtime_error("this CPU cannot run the '" + name + "' int8 kernel (it supports: " +
                             have + ")");
  }
  return *found;
}

}  // namespace pt
