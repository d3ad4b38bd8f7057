// Host emulation of the one cuBLAS call csrc/cuda makes: cublasGemmEx, as a naive column-major
// loop accumulating in double. It checks the leading dimensions as cuBLAS does; what it does not
// implement (beta != 0, mixed input types, a non-float32 output) is CUBLAS_STATUS_NOT_SUPPORTED.
#pragma once
#include "cuda_bf16.h"
#include "cuda_fp16.h"

typedef struct cublasContext* cublasHandle_t;
enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
};
enum cudaDataType_t { CUDA_R_32F, CUDA_R_16F, CUDA_R_16BF };
enum cublasOperation_t { CUBLAS_OP_N, CUBLAS_OP_T };
enum cublasComputeType_t { CUBLAS_COMPUTE_32F };
enum cublasGemmAlgo_t { CUBLAS_GEMM_DEFAULT };

inline const char* cublasGetStatusName(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    default:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
}
inline const char* cublasGetStatusString(cublasStatus_t) { return "emulated cuBLAS"; }
inline cublasStatus_t cublasCreate(cublasHandle_t* h) {
  *h = reinterpret_cast<cublasHandle_t>(1);
  return CUBLAS_STATUS_SUCCESS;
}

inline float emu_load(const void* p, cudaDataType_t t, long i) {
  if (t == CUDA_R_32F) return static_cast<const float*>(p)[i];
  if (t == CUDA_R_16F) return __half2float(static_cast<const __half*>(p)[i]);
  return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}

// C [m, n] (ldc) = alpha * op(A) [m, k] @ op(B) [k, n], all column-major.
inline cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb,
                                   int m, int n, int k, const void* alpha, const void* A,
                                   cudaDataType_t at, int lda, const void* B, cudaDataType_t bt,
                                   int ldb, const void* beta, void* C, cudaDataType_t ct, int ldc,
                                   cublasComputeType_t, cublasGemmAlgo_t) {
  if (m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
  if (lda < std::max(1, ta == CUBLAS_OP_N ? m : k) ||
      ldb < std::max(1, tb == CUBLAS_OP_N ? k : n) || ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (ct != CUDA_R_32F || *static_cast<const float*>(beta) != 0.0f || at != bt)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double acc = 0;
      for (int l = 0; l < k; ++l) {
        const float a = emu_load(A, at, ta == CUBLAS_OP_N ? i + (long)l * lda : l + (long)i * lda);
        const float b = emu_load(B, bt, tb == CUBLAS_OP_N ? l + (long)j * ldb : j + (long)l * ldb);
        acc += (double)a * b;
      }
      static_cast<float*>(C)[i + (long)j * ldc] = *static_cast<const float*>(alpha) * (float)acc;
    }
  return CUBLAS_STATUS_SUCCESS;
}
