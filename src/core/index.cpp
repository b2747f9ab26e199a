#include "chunkarr/core/index.hpp"

#include <limits>

#include "chunkarr/core/error.hpp"

namespace chunkarr {

std::string to_string(std::span<const index_t> shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

index_t checked_mul(index_t a, index_t b, const char* what) {
  index_t r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r)) {
    throw_error<shape_error>(what, " overflows a 64-bit count (", a, " * ", b, ")");
  }
  return r;
}

index_t element_count(std::span<const index_t> shape) {
  index_t n = 1;
  for (index_t extent : shape) n = checked_mul(n, extent, "element count");
  return n;
}

shape_t c_strides(std::span<const index_t> shape) {
  shape_t strides(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

}  // namespace chunkarr
