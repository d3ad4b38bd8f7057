// Selects the vector type of this translation unit's ISA. Kernel sources include only this
// header; CMake compiles each of them once per ISA with PT_ISA_<NAME>=1 and that ISA's flags.
// Everything the kernels define lives in pt::kernels::PT_ISA_NS so the copies never collide
// (and an AVX-512 copy of an inline helper can never be picked for the scalar build).
#pragma once

#if defined(PT_ISA_AVX512) && defined(PT_ISA_VNNI) && defined(PT_ISA_AMX)
// Only the int8 GEMM is compiled for this variant (AVX-512 + VNNI + AMX-INT8, chosen at run time
// when the CPU and the OS allow AMX): the VNNI variant with tile multiplies for row blocks.
#define PT_ISA_NS avx512amx
#include "cpu/vec_avx512.h"
namespace pt::kernels::avx512amx {
using Vec = avx512::Vec;
using VecS8 = avx512::VecS8Vnni;
}  // namespace pt::kernels::avx512amx
#elif defined(PT_ISA_AVX512) && defined(PT_ISA_VNNI)
// Only the int8 GEMM is compiled for this variant (AVX-512 + VNNI, chosen at run time when the
// CPU has VNNI); it is the AVX-512 mappings with the VNNI int8 dot product.
#define PT_ISA_NS avx512vnni
#include "cpu/vec_avx512.h"
namespace pt::kernels::avx512vnni {
using Vec = avx512::Vec;
using VecS8 = avx512::VecS8Vnni;
}  // namespace pt::kernels::avx512vnni
#elif defined(PT_ISA_AVX512)
#define PT_ISA_NS avx512
#include "cpu/vec_avx512.h"
#elif defined(PT_ISA_AVX2)
#define PT_ISA_NS avx2
#include "cpu/vec_avx2.h"
#elif defined(PT_ISA_SCALAR)
#define PT_ISA_NS scalar
#include "cpu/vec_scalar.h"
#else
#error "compile kernel sources with exactly one of PT_ISA_AVX512, PT_ISA_AVX2, PT_ISA_SCALAR"
#endif

#include "cpu/vec_math.h"
