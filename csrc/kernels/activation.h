// The activation functions a GEMM epilogue or an elementwise kernel can apply. Defined once
// here and exported to Python by the bindings (never re-typed on the Python side).
#pragma once

namespace pt {

enum class Activation : int {
  none = 0,
  relu = 1,
  gelu = 2,       // x * Phi(x), exact (erf), as torch.nn.functional.gelu(approximate="none")
  gelu_tanh = 3,  // the tanh approximation of GPT-2 / BERT's "gelu_new"
  silu = 4,       // x * sigmoid(x), a.k.a. swish
};

}  // namespace pt
