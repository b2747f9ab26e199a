// Creation functions beyond full/zeros/ones/arange(n): arange(start, stop, step), linspace,
// eye, identity, tri, indices, meshgrid and the _like forms, as NumPy defines them. Each is an
// expression over arange and fill nodes (an index per axis, broadcast), so its values are
// computed chunk by chunk where they are read and nothing is held.
#include <algorithm>
#include <cmath>
#include <limits>

#include "chunkarr/core/error.hpp"
#include "expr/node.hpp"

namespace chunkarr {

using detail::node;
using detail::node_kind;

shape_t auto_chunks(const shape_t& shape) {
  constexpr index_t target = index_t{1} << 22;
  shape_t chunks(shape.size(), 1);
  index_t rest = 1;
  for (std::size_t d = shape.size(); d-- > 0;) {
    const index_t n = std::max<index_t>(shape[d], 1);
    chunks[d] = std::clamp<index_t>(target / rest, 1, n);
    rest *= chunks[d];
    if (chunks[d] < n) break;
  }
  return chunks;
}

namespace {

shape_t chunks_or_automatic(const shape_t& shape, const shape_t& chunk_shape) {
  if (chunk_shape.empty()) return auto_chunks(shape);
  if (chunk_shape.size() != shape.size()) {
    throw_error<shape_error>("chunks ", to_string(chunk_shape), " do not match shape ",
                             to_string(shape));
  }
  return chunk_shape;
}

// 0, 1, …, n - 1 along `axis` of `ndim` axes (length 1 along the others), as int64.
array index_along(index_t n, std::size_t axis, std::size_t ndim, index_t chunk) {
  array a = arange(n, make_dtype(scalar_kind::int64), chunk);
  std::vector<index_spec> sub(ndim, newaxis);
  sub[axis] = all;
  return a(sub);
}

index_t checked_length(double count, const char* op) {
  if (!(count <= static_cast<double>(std::numeric_limits<index_t>::max() / 2))) {
    throw_error<value_error>(op, ": ", count, " values are too many");
  }
  return std::max<index_t>(0, static_cast<index_t>(std::ceil(count)));
}

void check_extent(index_t n, const char* op, const char* what) {
  if (n < 0)
    throw_error<value_error>(op, ": negative dimensions are not allowed (", what, " ", n, ")");
}

}  // namespace

array arange(double start, double stop, double step, dtype t, index_t chunk) {
  if (step == 0) throw_error<value_error>("arange: the step must not be zero");
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
    throw_error<value_error>("arange: start, stop and step must be finite");
  }
  const index_t n = checked_length((stop - start) / step, "arange");
  const array i =
      arange(n, make_dtype(scalar_kind::float64), chunk > 0 ? chunk : auto_chunks({n}).front());
  return (i * step + start).astype(t);
}

array linspace(double start, double stop, index_t num, bool endpoint, dtype t, index_t chunk) {
  check_extent(num, "linspace", "num");
  const index_t div = endpoint ? num - 1 : num;
  const double step = div > 0 ? (stop - start) / static_cast<double>(div) : 0.0;
  const array i =
      arange(num, make_dtype(scalar_kind::float64), chunk > 0 ? chunk : auto_chunks({num}).front());
  array values = i * step + start;
  // NumPy puts stop itself last (start + (num - 1) * step may round past it).
  if (endpoint && num > 1) values = where(i == static_cast<double>(num - 1), stop, values);
  // Integers round down, as NumPy's linspace does (astype alone would round toward zero).
  if (t.is_signed_int() || t.is_unsigned_int()) values = apply(unary_op::floor, values);
  return values.astype(t);
}

array eye(index_t n, std::optional<index_t> m, index_t k, dtype t, shape_t chunk_shape) {
  const index_t cols = m.value_or(n);
  check_extent(n, "eye", "N");
  check_extent(cols, "eye", "M");
  const shape_t chunks = chunks_or_automatic({n, cols}, chunk_shape);
  const array rows = index_along(n, 0, 2, chunks[0]), columns = index_along(cols, 1, 2, chunks[1]);
  return (rows + k == columns).astype(t);
}

array identity(index_t n, dtype t, shape_t chunk_shape) {
  return eye(n, n, 0, t, std::move(chunk_shape));
}

array tri(index_t n, std::optional<index_t> m, index_t k, dtype t, shape_t chunk_shape) {
  const index_t cols = m.value_or(n);
  check_extent(n, "tri", "N");
  check_extent(cols, "tri", "M");
  const shape_t chunks = chunks_or_automatic({n, cols}, chunk_shape);
  const array rows = index_along(n, 0, 2, chunks[0]), columns = index_along(cols, 1, 2, chunks[1]);
  return (rows + k >= columns).astype(t);
}

array indices(shape_t dimensions, dtype t, shape_t chunk_shape) {
  for (index_t n : dimensions) check_extent(n, "indices", "dimension");
  element_count(dimensions);
  const shape_t chunks = chunks_or_automatic(dimensions, chunk_shape);
  // Each index broadcast against a fill of the chunks asked for, which the sum then has.
  const array zero = zeros(dimensions, make_dtype(scalar_kind::int64), chunks);
  std::vector<array> grids;
  for (std::size_t d = 0; d < dimensions.size(); ++d) {
    grids.push_back((index_along(dimensions[d], d, dimensions.size(), chunks[d]) + zero).astype(t));
  }
  if (grids.empty()) return zeros({0}, t);
  return stack(grids, 0);
}

std::vector<array> meshgrid(const std::vector<array>& xs, bool matrix_indexing) {
  shape_t shape;
  for (const array& x : xs) shape.push_back(x.size());
  // 'xy' (Cartesian) indexing swaps the first two axes of the outputs.
  const bool swap = !matrix_indexing && xs.size() >= 2;
  if (swap) std::swap(shape[0], shape[1]);
  std::vector<array> out;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    std::size_t axis = i;
    if (swap && i < 2) axis = 1 - i;
    std::vector<index_spec> sub(xs.size(), newaxis);
    sub[axis] = all;
    out.push_back(broadcast_to(ravel(xs[i])(sub), shape));
  }
  return out;
}

array full_like(const array& a, scalar value, std::optional<dtype> t) {
  const node& in = detail::node_of(a);
  const array f = full(in.shape, value, t.value_or(in.dtype));
  // The same chunks as `a` (dask's _like), however irregular.
  auto n = std::make_shared<node>(detail::node_of(f));
  n->chunks = in.chunks;
  n->inputs.clear();
  return array(std::move(n));
}

array zeros_like(const array& a, std::optional<dtype> t) {
  return full_like(a, 0, t);
}

array ones_like(const array& a, std::optional<dtype> t) {
  return full_like(a, 1, t);
}

}  // namespace chunkarr
