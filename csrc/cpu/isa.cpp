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

}  // namespace pt
