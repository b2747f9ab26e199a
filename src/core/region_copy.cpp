#include "chunkarr/core/region_copy.hpp"

#include <cstring>

namespace chunkarr {
namespace {

// Strides of a Fortran-order array, in elements.
shape_t f_strides(std::span<const index_t> shape) {
  shape_t strides(shape.size(), 1);
  for (std::size_t d = 1; d < shape.size(); ++d) strides[d] = strides[d - 1] * shape[d - 1];
  return strides;
}

// Walks every element of `shape` in C order; element k of the walk is at C offset k and at
// the offset `other_strides` give. Copies one to the other, in the direction `to_c` says.
void permute(const std::byte* src, std::byte* dst, std::span<const index_t> shape,
             std::size_t itemsize, bool to_c) {
  const index_t total = element_count(shape);
  if (total == 0) return;
  const std::size_t n = shape.size();
  if (n <= 1) {
    std::memcpy(dst, src, static_cast<std::size_t>(total) * itemsize);
    return;
  }
  const shape_t strides = f_strides(shape);
  const index_t inner = shape[n - 1];
  const index_t inner_stride = strides[n - 1];
  shape_t index(n, 0);
  index_t c_offset = 0;
  while (c_offset < total) {
    index_t f_offset = 0;
    for (std::size_t d = 0; d + 1 < n; ++d) f_offset += index[d] * strides[d];
    for (index_t i = 0; i < inner; ++i) {
      const index_t f = f_offset + i * inner_stride;
      const std::byte* from = to_c ? src + f * itemsize : src + (c_offset + i) * itemsize;
      std::byte* to = to_c ? dst + (c_offset + i) * itemsize : dst + f * itemsize;
      std::memcpy(to, from, itemsize);
    }
    c_offset += inner;
    for (std::size_t d = n - 1; d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}

}  // namespace

void copy_region(const std::byte* src, std::span<const index_t> src_shape,
                 std::span<const index_t> src_origin, std::byte* dst,
                 std::span<const index_t> dst_shape, std::span<const index_t> dst_origin,
                 std::span<const index_t> extent, std::size_t itemsize) {
  const std::size_t n = extent.size();
  if (element_count(extent) == 0) return;
  if (n == 0) {
    std::memcpy(dst, src, itemsize);
    return;
  }
  const shape_t src_strides = c_strides(src_shape);
  const shape_t dst_strides = c_strides(dst_shape);
  // Merge the trailing dimensions that are contiguous in both buffers into one run.
  std::size_t first_run_dim = n - 1;
  index_t run = extent[n - 1];
  while (first_run_dim > 0 && extent[first_run_dim] == src_shape[first_run_dim] &&
         extent[first_run_dim] == dst_shape[first_run_dim]) {
    --first_run_dim;
    run *= extent[first_run_dim];
  }
  const std::size_t run_bytes = static_cast<std::size_t>(run) * itemsize;
  index_t src_base = 0;
  index_t dst_base = 0;
  for (std::size_t d = 0; d < n; ++d) {
    src_base += src_origin[d] * src_strides[d];
    dst_base += dst_origin[d] * dst_strides[d];
  }
  shape_t index(first_run_dim, 0);
  while (true) {
    index_t s = src_base;
    index_t t = dst_base;
    for (std::size_t d = 0; d < first_run_dim; ++d) {
      s += index[d] * src_strides[d];
      t += index[d] * dst_strides[d];
    }
    std::memcpy(dst + t * itemsize, src + s * itemsize, run_bytes);
    std::size_t d = first_run_dim;
    while (d > 0) {
      --d;
      if (++index[d] < extent[d]) break;
      index[d] = 0;
      if (d == 0) return;
    }
    if (first_run_dim == 0) return;
  }
}

void fill_elements(std::byte* dst, index_t count, const std::byte* value, std::size_t itemsize) {
  if (count <= 0) return;
  bool all_zero = true;
  for (std::size_t i = 0; i < itemsize; ++i) all_zero = all_zero && value[i] == std::byte{0};
  if (all_zero) {
    std::memset(dst, 0, static_cast<std::size_t>(count) * itemsize);
    return;
  }
  std::memcpy(dst, value, itemsize);
  // Doubling copies: log2(count) memcpy calls.
  index_t done = 1;
  while (done < count) {
    const index_t now = std::min(done, count - done);
    std::memcpy(dst + done * itemsize, dst, static_cast<std::size_t>(now) * itemsize);
    done += now;
  }
}

void fortran_to_c(const std::byte* src, std::byte* dst, std::span<const index_t> shape,
                  std::size_t itemsize) {
  permute(src, dst, shape, itemsize, true);
}

void c_to_fortran(const std::byte* src, std::byte* dst, std::span<const index_t> shape,
                  std::size_t itemsize) {
  permute(src, dst, shape, itemsize, false);
}

}  // namespace chunkarr
