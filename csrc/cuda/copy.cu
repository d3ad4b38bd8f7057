// Moving data: host <-> device, strided device copies (views of KV caches, transposed
// projections), float32 -> float16/bfloat16 conversion (weights at load, Linear inputs), and row
// gathers (beam reordering of KV caches). Copies move raw bits, so they work for every dtype
// through an unsigned integer of the element's size.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/device.h"
#include "cuda/ops.h"

namespace pt::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxRank = 6;

// Calls f(T{}) with T the unsigned integer type of `size` bytes.
template <class F>
void with_bits(int64_t size, F&& f) {
  switch (size) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    default: f(uint64_t{}); break;
  }
}

// Shape and both stride lists of a copy, size-1 axes dropped (they address nothing), so that
// any rank up to kMaxRank non-trivial axes fits.
struct CopyLayout {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t dst_stride[kMaxRank] = {};
  int64_t src_stride[kMaxRank] = {};
};

CopyLayout copy_layout(const DeviceView& dst, const DeviceView& src) {
  CopyLayout l;
  for (int64_t a = 0; a < dst.rank(); ++a) {
    if (dst.shape[a] == 1) continue;
    if (l.rank == kMaxRank)
      throw std::invalid_argument("copy: at most " + std::to_string(kMaxRank) +
                                  " axes of size > 1 are supported, got shape " +
                                  shape_str(dst.shape));
    l.shape[l.rank] = dst.shape[a];
    l.dst_stride[l.rank] = dst.strides[a];
    l.src_stride[l.rank] = src.strides[a];
    ++l.rank;
  }
  return l;
}

// dst[idx] = src[idx] over the n elements of l.shape, flat index split into axis indices from
// the last axis out.
template <class T>
__global__ void copy_strided_kernel(T* dst, const T* src, CopyLayout l, int64_t n) {
  for_each_index(n, [&](int64_t i) {
    int64_t rest = i, d = 0, s = 0;
    for (int a = l.rank - 1; a >= 0; --a) {
      const int64_t idx = rest % l.shape[a];
      rest /= l.shape[a];
      d += idx * l.dst_stride[a];
      s += idx * l.src_stride[a];
    }
    dst[d] = src[s];
  });
}

void launch_copy(const DeviceView& dst, const DeviceView& src) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.contiguous() && src.contiguous()) {  // one DMA copy, ordered on the default stream
    check(cudaMemcpyAsync(dst.ptr, src.ptr, n * itemsize(dst.dtype), cudaMemcpyDeviceToDevice),
          "copy");
    return;
  }
  const CopyLayout l = copy_layout(dst, src);
  with_bits(itemsize(dst.dtype), [&](auto zero) {
    using T = decltype(zero);
    copy_strided_kernel<T><<<grid_for(n, kThreads), kThreads>>>(
        static_cast<T*>(dst.ptr), static_cast<const T*>(src.ptr), l, n);
  });
  check_launch("copy");
}

// dst [rows, cols] contiguous = float32 src rows, converted with round-to-nearest-even.
__device__ __forceinline__ void store_converted(__half* p, float x) { *p = __float2half_rn(x); }
__device__ __forceinline__ void store_converted(__nv_bfloat16* p, float x) {
  *p = __float2bfloat16_rn(x);
}

template <class T>
__global__ void convert_kernel(T* dst, const float* src, int64_t src_stride, int64_t rows,
                               int64_t cols) {
  for_each_cell(rows, cols, [&](int64_t r, int64_t c) {
    store_converted(dst + r * cols + c, src[r * src_stride + c]);
  });
}

// dst [n, cols] row r = src row index[r], or zeros when index[r] is outside [0, src_rows).
template <class T>
__global__ void gather_rows_kernel(T* dst, int64_t dst_stride, const T* src, int64_t src_stride,
                                   int64_t src_rows, const int64_t* index, int64_t n,
                                   int64_t cols) {
  for_each_cell(n, cols, [&](int64_t r, int64_t c) {
    const int64_t j = index[r];
    dst[r * dst_stride + c] = j >= 0 && j < src_rows ? src[j * src_stride + c] : T(0);
  });
}

}  // namespace

void copy_from_host(const DeviceView& dst, const void* src, int64_t nbytes) {
  expect_contiguous("dst", dst);
  if (nbytes != dst.numel() * itemsize(dst.dtype))
    throw std::invalid_argument("src: expected " +
                                std::to_string(dst.numel() * itemsize(dst.dtype)) +
                                " bytes for dst, got " + std::to_string(nbytes));
  if (nbytes == 0) return;
  check(cudaMemcpy(dst.ptr, src, nbytes, cudaMemcpyHostToDevice), "copy_from_host");
}

void copy_to_host(const DeviceView& src, void* dst, int64_t nbytes) {
  if (nbytes != src.numel() * itemsize(src.dtype))
    throw std::invalid_argument("dst: expected " +
                                std::to_string(src.numel() * itemsize(src.dtype)) +
                                " bytes for src, got " + std::to_string(nbytes));
  if (nbytes == 0) return;
  if (src.contiguous()) {
    check(cudaMemcpy(dst, src.ptr, nbytes, cudaMemcpyDeviceToHost), "copy_to_host");
    return;
  }
  // Strided: gather into a contiguous scratch block first, then one transfer.
  Buffer scratch(static_cast<size_t>(nbytes));
  DeviceView packed = src;
  packed.ptr = scratch.ptr();
  int64_t stride = 1;
  for (int64_t a = packed.rank() - 1; a >= 0; --a) {
    packed.strides[a] = stride;
    stride *= packed.shape[a];
  }
  launch_copy(packed, src);
  check(cudaMemcpy(dst, scratch.ptr(), nbytes, cudaMemcpyDeviceToHost), "copy_to_host");
}

void copy(const DeviceView& dst, const DeviceView& src) {
  expect_shape("src", src, dst.shape);
  expect_dtype("src", src, dst.dtype);
  expect_no_overlap("dst", dst, "src", src);
  launch_copy(dst, src);
}

void convert(const DeviceView& dst, const DeviceView& src) {
  expect_dtype("src", src, DType::float32);
  if (dst.dtype != DType::float16 && dst.dtype != DType::bfloat16)
    throw std::invalid_argument(std::string("dst: expected dtype float16 or bfloat16, got ") +
                                dtype_name(dst.dtype));
  expect_contiguous("dst", dst);
  expect_shape("dst", dst, src.shape);
  const Rows s = as_rows("src", src);
  const int64_t n = s.rows * s.cols;
  if (n == 0) return;
  const auto* from = static_cast<const float*>(s.ptr);
  if (dst.dtype == DType::float16)
    convert_kernel<__half><<<grid_for(n, kThreads), kThreads>>>(
        static_cast<__half*>(dst.ptr), from, s.row_stride, s.rows, s.cols);
  else
    convert_kernel<__nv_bfloat16><<<grid_for(n, kThreads), kThreads>>>(
        static_cast<__nv_bfloat16*>(dst.ptr), from, s.row_stride, s.rows, s.cols);
  check_launch("convert");
}

void gather_rows(const DeviceView& dst, const DeviceView& src, const DeviceView& index) {
  expect_dtype("src", src, dst.dtype);
  expect_dtype("index", index, DType::int64);
  expect_contiguous("index", index);
  const Rows d = as_rows("dst", dst), s = as_rows("src", src);
  if (d.rows != index.numel())
    throw std::invalid_argument("dst: expected " + std::to_string(index.numel()) +
                                " rows (one per index), got shape " + shape_str(dst.shape));
  if (s.cols != d.cols)
    throw std::invalid_argument("src: expected rows of " + std::to_string(d.cols) +
                                " elements like dst, got shape " + shape_str(src.shape));
  expect_no_overlap("dst", dst, "src", src);
  const int64_t n = d.rows * d.cols;
  if (n == 0) return;
  with_bits(itemsize(dst.dtype), [&](auto zero) {
    using T = decltype(zero);
    gather_rows_kernel<T><<<grid_for(n, kThreads), kThreads>>>(
        static_cast<T*>(d.ptr), d.row_stride, static_cast<const T*>(s.ptr), s.row_stride, s.rows,
        static_cast<const int64_t*>(index.ptr), d.rows, d.cols);
  });
  check_launch("gather_rows");
}

}  // namespace pt::cuda
