// Copying rectangular regions between C-order buffers.
//
// The zarr layer assembles reads from pieces of chunks and splits writes into them; the
// executor does the same with task outputs. These helpers move one region of elements from
// one C-order buffer to another with a memcpy per contiguous run, so the per-element cost is
// that of memcpy. They check nothing: callers pass regions that fit.
#pragma once

#include <cstddef>
#include <span>

#include "chunkarr/core/index.hpp"

namespace chunkarr {

/// Copies the region of shape `extent`, which starts at `src_origin` in the C-order array
/// `src` of shape `src_shape`, to `dst_origin` in the C-order array `dst` of shape `dst_shape`.
void copy_region(const std::byte* src, std::span<const index_t> src_shape,
                 std::span<const index_t> src_origin, std::byte* dst,
                 std::span<const index_t> dst_shape, std::span<const index_t> dst_origin,
                 std::span<const index_t> extent, std::size_t itemsize);

/// Fills `count` elements of `itemsize` bytes at `dst` with the element at `value`.
void fill_elements(std::byte* dst, index_t count, const std::byte* value, std::size_t itemsize);

/// Converts an array of shape `shape` from Fortran order (`src`) to C order (`dst`).
void fortran_to_c(const std::byte* src, std::byte* dst, std::span<const index_t> shape,
                  std::size_t itemsize);
/// Converts an array of shape `shape` from C order (`src`) to Fortran order (`dst`).
void c_to_fortran(const std::byte* src, std::byte* dst, std::span<const index_t> shape,
                  std::size_t itemsize);

}  // namespace chunkarr
