// Coordinates and shapes.
//
// chunkarr counts elements, chunks and bytes in `index_t` (int64), as NumPy does with
// `npy_intp`; conversion to xtensor's size_t shapes happens only at the boundary. Arithmetic
// on user-given sizes goes through the checked helpers here, so an absurd shape is a
// `shape_error`, never a wrapped-around product.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace chunkarr {

using index_t = std::int64_t;
using shape_t = std::vector<index_t>;

/// The largest number of dimensions an array may have (NumPy's limit).
inline constexpr int max_ndim = 32;

/// `(3, 4)` for a shape, `()` for a 0-d one: the form NumPy prints.
std::string to_string(std::span<const index_t> shape);

/// a * b, or a shape_error naming `what` when it overflows int64. Both must be >= 0.
index_t checked_mul(index_t a, index_t b, const char* what);

/// The product of `shape`, checked for overflow (1 for a 0-d shape).
index_t element_count(std::span<const index_t> shape);

/// C-order strides, in elements, for `shape`.
shape_t c_strides(std::span<const index_t> shape);

}  // namespace chunkarr
