// Joining arrays: concatenate, stack, hstack/vstack/dstack, block, and atleast_Nd.
//
// A concatenation is one node over its operands (cast to the promoted dtype first). Its chunks
// are the operands' own: along the joined axis one operand's chunks after another's; along
// every other axis each boundary of any operand (dask's unify_chunks), so each output chunk
// lies inside one chunk of one operand and nothing is rechunked or read twice when the
// operands share their chunking.
#include <algorithm>
#include <set>
#include <string>

#include "chunkarr/core/error.hpp"
#include "expr/node.hpp"

namespace chunkarr {

using detail::node;
using detail::node_kind;
using detail::node_ptr;

namespace {

// The chunks that every operand's chunks along one axis split into (their common refinement).
axis_chunks refine(const std::vector<const axis_chunks*>& all) {
  bool same = true;
  for (const axis_chunks* c : all) same = same && *c == *all.front();
  if (same) return *all.front();
  std::set<index_t> bounds;
  for (const axis_chunks* c : all) {
    for (index_t i = 0; i <= c->size(); ++i) bounds.insert(c->start(i));
  }
  axis_chunks out;
  index_t previous = 0;
  for (index_t b : bounds) {
    if (b > previous) out.push_back(b - previous);
    previous = b;
  }
  return out;
}

std::string dimension_word(std::size_t n) {
  return std::to_string(n) + " dimension(s)";
}

}  // namespace

array concatenate(const std::vector<array>& arrays, int axis) {
  if (arrays.empty()) throw_error<value_error>("concatenate: need at least one array");
  const node& first = detail::node_of(arrays.front());
  const std::size_t ndim = first.shape.size();
  if (ndim == 0) {
    throw_error<shape_error>("concatenate: zero-dimensional arrays cannot be concatenated");
  }
  const int joined = detail::normalize_axis(axis, ndim, "concatenate");
  const auto a = static_cast<std::size_t>(joined);
  dtype t = first.dtype;
  index_t extent = 0;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    const node& in = detail::node_of(arrays[i]);
    if (in.shape.size() != ndim) {
      throw_error<shape_error>(
          "concatenate: all the input arrays must have the same number of dimensions, but the "
          "array at index 0 has ",
          dimension_word(ndim), " (shape ", to_string(first.shape), ") and the array at index ", i,
          " has ", dimension_word(in.shape.size()), " (shape ", to_string(in.shape), ")");
    }
    for (std::size_t d = 0; d < ndim; ++d) {
      if (d != a && in.shape[d] != first.shape[d]) {
        throw_error<shape_error>(
            "concatenate: all the input array dimensions except for the concatenation axis (",
            joined, ") must match exactly, but along dimension ", d,
            ", the array at index 0 has size ", first.shape[d], " (shape ", to_string(first.shape),
            ") and the array at index ", i, " has size ", in.shape[d], " (shape ",
            to_string(in.shape), ")");
      }
    }
    t = detail::promote_types(t, in.dtype);
    if (__builtin_add_overflow(extent, in.shape[a], &extent)) {
      throw_error<shape_error>("concatenate: the joined axis overflows a 64-bit length");
    }
  }
  t = make_dtype(t.kind);
  std::vector<node_ptr> inputs;
  for (const array& x : arrays) {
    // Empty operands add nothing (and have no chunks along the axis).
    if (x.shape()[a] == 0 && arrays.size() > 1) continue;
    inputs.push_back(x.dtype() == t ? x.node() : x.astype(t).node());
  }
  if (inputs.empty()) inputs.push_back(arrays.front().astype(t).node());
  if (inputs.size() == 1) return array(inputs.front());

  auto n = std::make_shared<node>();
  n->kind = node_kind::concatenate;
  n->dtype = t;
  n->axis = joined;
  n->shape = first.shape;
  n->shape[a] = extent;
  for (std::size_t d = 0; d < ndim; ++d) {
    if (d == a) {
      axis_chunks along;
      for (const node_ptr& in : inputs) {
        for (index_t c : in->chunks[d]) along.push_back(c);
      }
      n->chunks.push_back(std::move(along));
    } else {
      std::vector<const axis_chunks*> all;
      for (const node_ptr& in : inputs) all.push_back(&in->chunks[d]);
      n->chunks.push_back(refine(all));
    }
  }
  n->inputs = std::move(inputs);
  return array(std::move(n));
}

array expand_dims(const array& a, int axis) {
  const std::size_t ndim = a.ndim() + 1;
  const auto d = static_cast<std::size_t>(detail::normalize_axis(axis, ndim, "expand_dims"));
  std::vector<index_spec> subscripts(ndim, all);
  subscripts[d] = newaxis;
  return a(subscripts);
}

array stack(const std::vector<array>& arrays, int axis) {
  if (arrays.empty()) throw_error<value_error>("stack: need at least one array");
  const shape_t& shape = detail::node_of(arrays.front()).shape;
  for (std::size_t i = 1; i < arrays.size(); ++i) {
    if (detail::node_of(arrays[i]).shape != shape) {
      throw_error<shape_error>(
          "stack: all input arrays must have the same shape, but the array "
          "at index 0 has shape ",
          to_string(shape), " and the array at index ", i, " has shape ",
          to_string(arrays[i].shape()));
    }
  }
  const int d = detail::normalize_axis(axis, shape.size() + 1, "stack");
  std::vector<array> expanded;
  for (const array& x : arrays) expanded.push_back(expand_dims(x, d));
  return concatenate(expanded, d);
}

array atleast_1d(const array& a) {
  detail::node_of(a);
  return a.ndim() >= 1 ? a : a(newaxis);
}

array atleast_2d(const array& a) {
  detail::node_of(a);
  if (a.ndim() >= 2) return a;
  return a.ndim() == 1 ? a(newaxis, all) : a(newaxis, newaxis);
}

array atleast_3d(const array& a) {
  detail::node_of(a);
  switch (a.ndim()) {
    case 0:
      return a(newaxis, newaxis, newaxis);
    case 1:
      return a(newaxis, all, newaxis);  // (N,) -> (1, N, 1), as NumPy
    case 2:
      return a(all, all, newaxis);  // (M, N) -> (M, N, 1)
    default:
      return a;
  }
}

array hstack(const std::vector<array>& arrays) {
  if (arrays.empty()) throw_error<value_error>("hstack: need at least one array");
  std::vector<array> parts;
  for (const array& x : arrays) parts.push_back(atleast_1d(x));
  // 1-d arrays join along their only axis, everything else along the second.
  return concatenate(parts, parts.front().ndim() == 1 ? 0 : 1);
}

array vstack(const std::vector<array>& arrays) {
  if (arrays.empty()) throw_error<value_error>("vstack: need at least one array");
  std::vector<array> parts;
  for (const array& x : arrays) parts.push_back(atleast_2d(x));
  return concatenate(parts, 0);
}

array dstack(const std::vector<array>& arrays) {
  if (arrays.empty()) throw_error<value_error>("dstack: need at least one array");
  std::vector<array> parts;
  for (const array& x : arrays) parts.push_back(atleast_3d(x));
  return concatenate(parts, 2);
}

namespace {

// The depth of a block list (every leaf must be at the same depth, as NumPy requires).
std::size_t block_depth(const block_item& item, const std::string& where) {
  if (!item.is_list()) return 0;
  if (item.items.empty()) {
    throw_error<value_error>("block: list at ", where, " cannot be empty");
  }
  std::size_t depth = 0;
  for (std::size_t i = 0; i < item.items.size(); ++i) {
    const std::size_t d = block_depth(item.items[i], where + "[" + std::to_string(i) + "]");
    if (i == 0) {
      depth = d;
    } else if (d != depth) {
      throw_error<value_error>("block: list depths are mismatched: the entry at ", where, "[0] is ",
                               depth, " lists deep and the entry at ", where, "[", i, "] is ", d);
    }
  }
  return depth + 1;
}

std::size_t block_ndim(const block_item& item) {
  if (!item.is_list()) return detail::node_of(item.leaf).shape.size();
  std::size_t most = 0;
  for (const block_item& i : item.items) most = std::max(most, block_ndim(i));
  return most;
}

// Lists `depth` deep join along axis -depth, innermost first.
array assemble(const block_item& item, std::size_t depth, std::size_t ndim) {
  if (!item.is_list()) {
    array a = item.leaf;
    while (a.ndim() < ndim) a = a(newaxis, ellipsis);  // NumPy prepends the missing axes
    return a;
  }
  std::vector<array> parts;
  for (const block_item& i : item.items) parts.push_back(assemble(i, depth - 1, ndim));
  return concatenate(parts, -static_cast<int>(depth));
}

}  // namespace

array block(const block_item& arrays) {
  const std::size_t depth = block_depth(arrays, "arrays");
  const std::size_t ndim = std::max(depth, block_ndim(arrays));
  return assemble(arrays, depth, ndim);
}

}  // namespace chunkarr
