// Fills the KernelTable of the ISA this copy is compiled for.
#include "kernels/kernels.h"

#define PT_STRINGIFY_(x) #x
#define PT_STRINGIFY(x) PT_STRINGIFY_(x)
#define PT_CONCAT_(a, b) a##b
#define PT_CONCAT(a, b) PT_CONCAT_(a, b)

namespace pt {

const KernelTable& PT_CONCAT(kernel_table_, PT_ISA_NS)() {
  namespace k = kernels::PT_ISA_NS;
  static const KernelTable table{
      PT_STRINGIFY(PT_ISA_NS), &k::layer_norm,       &k::rms_norm,
      &k::softmax,             &k::activation,       &k::gated_activation,
      &k::embedding,           &k::rotary,           &k::gemm_packed_size,
      &k::gemm_pack,           &k::gemm,             &k::attention,
      &k::fma_loop,            &k::read_sum,
  };
  return table;
}

}  // namespace pt
