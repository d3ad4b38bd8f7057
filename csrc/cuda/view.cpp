#include "cuda/view.h"

#include <stdexcept>
#include <utility>

namespace pt::cuda {

namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  int64_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::float32, "float32", 4}, {DType::float16, "float16", 2},
    {DType::bfloat16, "bfloat16", 2}, {DType::int64, "int64", 8},
    {DType::uint8, "uint8", 1},
};

const DTypeInfo& info(DType dtype) {
  for (const auto& i : kDTypes)
    if (i.dtype == dtype) return i;
  throw std::logic_error("unknown DType");
}

}  // namespace

DType dtype_from_name(const std::string& name, const char* arg) {
  for (const auto& i : kDTypes)
    if (name == i.name) return i.dtype;
  throw std::invalid_argument(std::string(arg) + ": unsupported dtype '" + name +
                              "' (expected float32, float16, bfloat16, int64 or uint8)");
}

const char* dtype_name(DType dtype) { return info(dtype).name; }
int64_t itemsize(DType dtype) { return info(dtype).size; }

int64_t DeviceView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool DeviceView::contiguous() const {
  int64_t expected = 1;
  for (int64_t i = rank() - 1; i >= 0; --i) {
    if (shape[i] == 0) return true;
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void fail_shape(const char* name, const std::string& expected, const std::vector<int64_t>& got) {
  throw std::invalid_argument(std::string(name) + ": expected shape " + expected + ", got " +
                              shape_str(got));
}

void expect_dtype(const char* name, const DeviceView& v, DType dtype) {
  if (v.dtype != dtype)
    throw std::invalid_argument(std::string(name) + ": expected dtype " + dtype_name(dtype) +
                                ", got " + dtype_name(v.dtype));
}

void expect_rank(const char* name, const DeviceView& v, int64_t rank) {
  if (v.rank() != rank)
    throw std::invalid_argument(std::string(name) + ": expected " + std::to_string(rank) +
                                " dimensions, got shape " + shape_str(v.shape));
}

void expect_shape(const char* name, const DeviceView& v, const std::vector<int64_t>& shape) {
  if (v.shape != shape) fail_shape(name, shape_str(shape), v.shape);
}

void expect_contiguous(const char* name, const DeviceView& v) {
  if (!v.contiguous())
    throw std::invalid_argument(std::string(name) + ": expected a C-contiguous view");
}

void expect_unit_last_stride(const char* name, const DeviceView& v) {
  if (v.rank() > 0 && v.dim(-1) > 1 && v.stride(-1) != 1)
    throw std::invalid_argument(std::string(name) +
                                ": the last axis must be contiguous (stride 1)");
}

namespace {

// [lo, hi): the lowest byte addressed by v and one past the highest.
std::pair<uintptr_t, uintptr_t> byte_span(const DeviceView& v) {
  int64_t lo = 0, hi = 0;
  for (int64_t a = 0; a < v.rank(); ++a) {
    const int64_t extent = (v.shape[a] - 1) * v.strides[a];
    (extent < 0 ? lo : hi) += extent;
  }
  const auto base = reinterpret_cast<uintptr_t>(v.ptr);
  const int64_t size = itemsize(v.dtype);
  return {base + lo * size, base + (hi + 1) * size};
}

}  // namespace

bool overlaps(const DeviceView& a, const DeviceView& b) {
  if (a.numel() == 0 || b.numel() == 0) return false;
  const auto [a_lo, a_hi] = byte_span(a);
  const auto [b_lo, b_hi] = byte_span(b);
  return a_lo < b_hi && b_lo < a_hi;
}

void expect_no_overlap(const char* a_name, const DeviceView& a, const char* b_name,
                       const DeviceView& b) {
  if (overlaps(a, b))
    throw std::invalid_argument(std::string(a_name) + ": must not overlap " + b_name);
}

Rows as_rows(const char* name, const DeviceView& v) {
  if (v.rank() < 1)
    throw std::invalid_argument(std::string(name) + ": expected at least one dimension");
  expect_unit_last_stride(name, v);
  Rows r;
  r.ptr = v.ptr;
  r.cols = v.dim(-1);
  r.rows = 1;
  for (int64_t i = 0; i + 1 < v.rank(); ++i) r.rows *= v.shape[i];
  r.row_stride = r.cols;
  if (r.rows <= 1) return r;
  // Leading axes collapse when each (skipping size-1 axes) steps over whole copies of the axes
  // inside it: stride[i] == stride[j] * shape[j] for the next non-trivial axis j within.
  bool found = false;
  int64_t inner_stride = 0, inner_size = 1;
  for (int64_t i = v.rank() - 2; i >= 0; --i) {
    if (v.shape[i] == 1) continue;
    if (!found) {
      found = true;
      inner_stride = v.strides[i];
    } else if (v.strides[i] != inner_stride * inner_size) {
      throw std::invalid_argument(std::string(name) + ": the leading axes of shape " +
                                  shape_str(v.shape) + " with strides " + shape_str(v.strides) +
                                  " do not collapse into one row axis");
    }
    inner_size *= v.shape[i];
  }
  r.row_stride = inner_stride;
  return r;
}

}  // namespace pt::cuda
