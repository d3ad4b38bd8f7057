#include "ops/tensor.h"

namespace pt::ops {

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) s += shape.size() == 1 ? "," : ", ";
  }
  return s + ")";
}

void fail_shape(const char* name, const std::string& expected, const Shape& got) {
  throw std::invalid_argument(std::string(name) + ": expected " + expected + ", got shape " +
                              shape_str(got));
}

}  // namespace pt::ops
