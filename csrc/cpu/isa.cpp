#include "cpu/isa.h"

#include <atomic>
#include <stdexcept>

#if defined(PT_HAVE_AMX) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace pt {
namespace {

bool cpu_has_avx512() {
  // __builtin_cpu_supports also checks that the OS saves the zmm/ymm state (XGETBV).
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool cpu_has_avx512_vnni() { return cpu_has_avx512() && __builtin_cpu_supports("avx512vnni"); }

// AMX-INT8 is usable when cpuid reports the tiles and their int8 multiply, the OS has enabled
// the tile state in XCR0 (bits 17 and 18), and Linux has granted this process the tile data
// (arch_prctl ARCH_REQ_XCOMP_PERM, Linux 5.16+): without that grant, the first tile instruction
// would kill the process with SIGILL. Asked once; the grant covers every thread.
bool cpu_has_avx512_amx() {
#if defined(PT_HAVE_AMX) && defined(__linux__)
  static const bool usable = [] {
    if (!cpu_has_avx512_vnni()) return false;
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    const bool amx_tile = edx & (1u << 24), amx_int8 = edx & (1u << 25);
    if (!amx_tile || !amx_int8) return false;
    unsigned xcr0_lo, xcr0_hi;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    constexpr unsigned kTileState = (1u << 17) | (1u << 18);
    if ((xcr0_lo & kTileState) != kTileState) return false;
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return usable;
#else
  return false;
#endif
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

std::vector<std::string> supported_int8_kernels() {
  std::vector<std::string> names;
  if (cpu_has_avx512_amx()) names.push_back("avx512_amx");
  if (cpu_has_avx512_vnni()) names.push_back("avx512_vnni");
  if (cpu_has_avx512()) names.push_back("avx512bw");
  if (cpu_has_avx2()) names.push_back("avx2");
  names.push_back("scalar");
  return names;
}

// The int8 variant set_int8_kernel chose, or null: the active ISA's best.
std::atomic<const GemmS8Kernels*>& chosen_int8_kernels() {
  static std::atomic<const GemmS8Kernels*> chosen{nullptr};
  return chosen;
}

const GemmS8Kernels& int8_kernels() {
  if (const GemmS8Kernels* chosen = chosen_int8_kernels().load(std::memory_order_relaxed))
    return *chosen;
  const KernelTable* table = &kernels();
  if (table == &kernel_table_avx512()) {
#if defined(PT_HAVE_AMX)
    if (cpu_has_avx512_amx()) return gemm_s8_kernels_avx512amx();
#endif
    return cpu_has_avx512_vnni() ? gemm_s8_kernels_avx512vnni() : gemm_s8_kernels_avx512();
  }
  if (table == &kernel_table_avx2()) return gemm_s8_kernels_avx2();
  return gemm_s8_kernels_scalar();
}

const GemmS8Kernels& int8_kernels(const std::string& name) {
  const GemmS8Kernels* found = nullptr;
  bool supported = false;
  if (name == "avx512_amx") {
#if defined(PT_HAVE_AMX)
    found = &gemm_s8_kernels_avx512amx();
    supported = cpu_has_avx512_amx();
#endif
  } else if (name == "avx512_vnni") {
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
                                "': expected one of 'avx512_amx', 'avx512_vnni', 'avx512bw', "
                                "'avx2', 'scalar'");
  }
  if (!supported) {
    std::string have;
    for (const auto& k : supported_int8_kernels()) have += (have.empty() ? "" : ", ") + k;
    throw std::runtime_error("this CPU cannot run the '" + name + "' int8 kernel (it supports: " +
                             have + ")");
  }
  return *found;
}

void set_int8_kernel(const std::string& name) {
  chosen_int8_kernels().store(name.empty() ? nullptr : &int8_kernels(name),
                              std::memory_order_relaxed);
}

}  // namespace pt
