// A view of device memory as the Python side hands it over (a pointer, a shape and element
// strides), and the host-side checks every op front runs on it before launching anything.
// Plain C++ (no CUDA, no pybind11), so that both the .cu op fronts and the bindings include it.
// Checks throw std::invalid_argument (ValueError in Python) naming the argument.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pt::cuda {

enum class DType { float32, float16, bfloat16, int64, uint8 };

// "float32" -> DType::float32 ...; throws for a name not in the list above.
DType dtype_from_name(const std::string& name, const char* arg);
const char* dtype_name(DType dtype);
int64_t itemsize(DType dtype);

struct DeviceView {
  void* ptr = nullptr;           // element 0 of the view
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements; 0 broadcasts
  DType dtype = DType::float32;

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t dim(int64_t i) const { return shape[i < 0 ? i + rank() : i]; }
  int64_t stride(int64_t i) const { return strides[i < 0 ? i + rank() : i]; }
  int64_t numel() const;
  bool contiguous() const;  // C order; axes of size 1 may have any stride
};

// A view whose leading axes collapse into one row axis with a single row stride: [rows, cols],
// row r at ptr + r * row_stride elements, its cols contiguous. rows <= 1 reports row_stride =
// cols, so that it is always a valid leading dimension.
struct Rows {
  void* ptr = nullptr;
  int64_t rows = 0, cols = 0, row_stride = 0;
};

std::string shape_str(const std::vector<int64_t>& shape);
[[noreturn]] void fail_shape(const char* name, const std::string& expected,
                             const std::vector<int64_t>& got);
void expect_dtype(const char* name, const DeviceView& v, DType dtype);
void expect_rank(const char* name, const DeviceView& v, int64_t rank);
void expect_shape(const char* name, const DeviceView& v, const std::vector<int64_t>& shape);
void expect_contiguous(const char* name, const DeviceView& v);
// The last axis must be contiguous (stride 1) when it has more than one element.
void expect_unit_last_stride(const char* name, const DeviceView& v);

// Whether any byte addressed by a lies in the span of bytes addressed by b (a conservative test:
// interleaved views with disjoint elements count as overlapping).
bool overlaps(const DeviceView& a, const DeviceView& b);
// Throws "<a_name>: must not overlap <b_name>" when they do.
void expect_no_overlap(const char* a_name, const DeviceView& a, const char* b_name,
                       const DeviceView& b);

// v as [rows, cols] (see Rows); throws when the leading axes do not collapse or the last axis is
// not contiguous. Rank 1 is one row.
Rows as_rows(const char* name, const DeviceView& v);

}  // namespace pt::cuda
