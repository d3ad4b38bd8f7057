// The Linear layer: GEMM through cuBLAS, then one fused epilogue kernel for bias, activation
// and residual. M = rows of x, N = out_features, K = in_features.
//
// cuBLAS is column-major; a row-major [R, C] matrix is a column-major [C, R] one. So the
// row-major out [M, N] = x [M, K] W^T is computed as the column-major out^T [N, M] =
// W^T(as stored: [K, N] col-major, transposed) x^T (as stored: [K, M] col-major, row stride of
// x as its leading dimension).
//
// float32 weights: fp32 inputs and fp32 compute (CUBLAS_COMPUTE_32F, never TF32), so the GPU
// matches the CPU path within fp32 rounding. float16/bfloat16 weights: x is rounded to the
// weight's type into a scratch block and the GEMM accumulates in fp32 with a float32 output.
#include <cublas_v2.h>

#include <climits>
#include <map>
#include <mutex>

#include "cuda/activations.cuh"
#include "cuda/common.cuh"
#include "cuda/device.h"
#include "cuda/linear.h"
#include "cuda/ops.h"

namespace pt::cuda {

namespace {

constexpr int kThreads = 256;

void check_cublas(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const std::string message = std::string(what) + ": " + cublasGetStatusName(status) + " (" +
                              cublasGetStatusString(status) + ")";
  if (status == CUBLAS_STATUS_ALLOC_FAILED) throw OutOfMemory("CUDA out of memory in " + message);
  throw std::runtime_error(message);
}

// One handle per device, created on first use and kept for the life of the process (destroying
// it at exit could run after the CUDA runtime has shut down).
cublasHandle_t cublas_handle() {
  static std::mutex mutex;
  static auto* handles = new std::map<int, cublasHandle_t>();
  const int device = current_device();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = handles->find(device);
  if (it != handles->end()) return it->second;
  cublasHandle_t handle = nullptr;
  check_cublas(cublasCreate(&handle), "cublasCreate");
  (*handles)[device] = handle;
  return handle;
}

cudaDataType_t cuda_type(DType dtype) {
  switch (dtype) {
    case DType::float16: return CUDA_R_16F;
    case DType::bfloat16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

// out [M, N] = act(y + bias) + residual; y and out contiguous (y may be out), residual rows.
__global__ void epilogue_kernel(float* out, const float* y, const float* bias, int act,
                                const float* residual, int64_t residual_stride, int64_t M,
                                int64_t N) {
  for_each_cell(M, N, [&](int64_t r, int64_t c) {
    float v = y[r * N + c];
    if (bias) v += bias[c];
    v = activate(v, act);
    if (residual) v += residual[r * residual_stride + c];
    out[r * N + c] = v;
  });
}

void expect_int(const char* name, int64_t value, const DeviceView& v) {
  if (value > INT_MAX)
    throw std::invalid_argument(std::string(name) +
                                ": sizes above 2^31 - 1 are not supported, got shape " +
                                shape_str(v.shape));
}

// Row-major strides of a contiguous view of `shape`.
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t s = 1;
  for (size_t a = shape.size(); a-- > 0;) {
    strides[a] = s;
    s *= shape[a];
  }
  return strides;
}

}  // namespace

Linear::Linear(const DeviceView& weight, const DeviceView* bias) {
  if (weight.dtype != DType::float32 && weight.dtype != DType::float16 &&
      weight.dtype != DType::bfloat16)
    throw std::invalid_argument(
        std::string("weight: expected dtype float32, float16 or bfloat16, got ") +
        dtype_name(weight.dtype));
  expect_rank("weight", weight, 2);
  expect_contiguous("weight", weight);
  N_ = weight.dim(0);
  K_ = weight.dim(1);
  expect_int("weight", N_, weight);
  expect_int("weight", K_, weight);
  weight_ = weight.ptr;
  dtype_ = weight.dtype;
  if (bias) {
    expect_dtype("bias", *bias, DType::float32);
    expect_shape("bias", *bias, {N_});
    expect_contiguous("bias", *bias);
    bias_ = static_cast<const float*>(bias->ptr);
  }
}

void Linear::forward(const DeviceView& out, const DeviceView& x, int activation,
                     const DeviceView* residual) const {
  expect_activation(activation);
  expect_dtype("x", x, DType::float32);
  const Rows xr = as_rows("x", x);
  if (xr.cols != K_)
    fail_shape("x", "[..., " + std::to_string(K_) + "] (in_features)", x.shape);
  std::vector<int64_t> out_shape = x.shape;
  out_shape.back() = N_;
  expect_dtype("out", out, DType::float32);
  expect_shape("out", out, out_shape);
  expect_contiguous("out", out);
  expect_no_overlap("out", out, "x", x);
  Rows rr;
  if (residual) {
    expect_dtype("residual", *residual, DType::float32);
    expect_shape("residual", *residual, out_shape);
    rr = as_rows("residual", *residual);
  }
  const int64_t M = xr.rows;
  if (M == 0 || N_ == 0) return;
  expect_int("x", M, x);
  expect_int("x", xr.row_stride, x);
  if (xr.row_stride < K_)
    throw std::invalid_argument("x: rows must not overlap (row stride " +
                                std::to_string(xr.row_stride) + " < " + std::to_string(K_) + ")");

  // The GEMM writes its result before the epilogue reads the residual, so a residual sharing
  // memory with out needs the product in a scratch block.
  const bool residual_in_out = residual && overlaps(*residual, out);
  Buffer product(residual_in_out ? static_cast<size_t>(M * N_) * sizeof(float) : 0);
  float* y = residual_in_out ? static_cast<float*>(product.ptr()) : static_cast<float*>(out.ptr);

  if (K_ == 0) {
    check(cudaMemsetAsync(y, 0, static_cast<size_t>(M * N_) * sizeof(float)),
          "Linear: cudaMemset");
  } else {
    const void* b = xr.ptr;
    int64_t ldb = xr.row_stride;
    Buffer rounded(dtype_ == DType::float32 ? 0 : static_cast<size_t>(M * K_) * itemsize(dtype_));
    if (dtype_ != DType::float32) {
      DeviceView dst{rounded.ptr(), x.shape, contiguous_strides(x.shape), dtype_};
      convert(dst, x);
      b = rounded.ptr();
      ldb = K_;
    }
    const float alpha = 1.0f, beta = 0.0f;
    check_cublas(cublasGemmEx(cublas_handle(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N_),
                              static_cast<int>(M), static_cast<int>(K_), &alpha, weight_,
                              cuda_type(dtype_), static_cast<int>(K_), b, cuda_type(dtype_),
                              static_cast<int>(ldb), &beta, y, CUDA_R_32F, static_cast<int>(N_),
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "Linear: cublasGemmEx");
  }

  if (!bias_ && activation == 0 && !residual && y == out.ptr) return;
  const int64_t n = M * N_;
  epilogue_kernel<<<grid_for(n, kThreads), kThreads>>>(
      static_cast<float*>(out.ptr), y, bias_, activation,
      residual ? static_cast<const float*>(rr.ptr) : nullptr, rr.row_stride, M, N_);
  check_launch("Linear epilogue");
}

}  // namespace pt::cuda
