// map_blocks and map_overlap: the checks and the blocks node (evaluated in
// src/exec/blocks.cpp, one block per chunk, inside whichever task needs it).
#include "chunkarr/expr/blocks.hpp"

#include <algorithm>
#include <set>

#include "chunkarr/core/error.hpp"
#include "expr/node.hpp"

namespace chunkarr {

using detail::node;

namespace detail {

void check_block_type(const array& a, scalar_kind expected, const char* op) {
  node_of(a);
  if (a.dtype().kind != expected) {
    throw_error<type_error>(op, ": the function takes ", make_dtype(expected).name(),
                            " blocks but the array is ", a.dtype().name(),
                            " (astype it first, or take its type)");
  }
}

// The same values in exactly `chunks` (a rechunk node; the planner decides how to copy).
array in_chunks(const array& a, const chunks_t& chunks) {
  if (a.chunks() == chunks) return a;
  auto n = std::make_shared<node>();
  n->kind = node_kind::rechunk;
  n->shape = a.shape();
  n->dtype = a.dtype();
  n->chunks = chunks;
  n->inputs = {a.node()};
  return array(std::move(n));
}

// Sorted, distinct axes in [0, ndim), or a value_error naming `what`.
std::vector<int> axes_in(std::vector<int> axes, std::size_t ndim, const std::string& op,
                         const char* what) {
  for (int& d : axes) d = normalize_axis(d, ndim, op.c_str());
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    throw_error<value_error>(op, ": ", what, " repeats an axis");
  return axes;
}

}  // namespace detail

array map_blocks(block_function f, const std::vector<array>& inputs, map_blocks_options o) {
  const std::string& op = o.name;
  if (!f) throw_error<value_error>(op, ": no function");
  if (inputs.empty()) throw_error<value_error>(op, ": no input arrays");
  if (o.scratch_bytes < 0) throw_error<value_error>(op, ": negative scratch_bytes");
  const array& first = inputs[0];
  detail::node_of(first);
  std::vector<detail::node_ptr> in_nodes;
  for (const array& a : inputs) {
    detail::node_of(a);
    if (a.shape() != first.shape()) {
      throw_error<shape_error>(op, ": inputs of shapes ", to_string(first.shape()), " and ",
                               to_string(a.shape()), " (map_blocks takes arrays of one shape)");
    }
    in_nodes.push_back(detail::in_chunks(a, first.chunks()).node());
  }
  const std::size_t in_ndim = first.ndim();
  const std::vector<int> dropped = detail::axes_in(o.drop_axis, in_ndim, op, "drop_axis");
  for (int d : dropped) {
    const axis_chunks& c = first.chunks()[static_cast<std::size_t>(d)];
    if (c.size() > 1) {
      throw_error<shape_error>(op, ": drop_axis ", d, " has ", c.size(),
                               " chunks; rechunk it to one chunk (-1) first");
    }
  }
  chunks_t chunks;
  for (std::size_t d = 0; d < in_ndim; ++d) {
    if (!std::binary_search(dropped.begin(), dropped.end(), static_cast<int>(d)))
      chunks.push_back(first.chunks()[d]);
  }
  const std::size_t out_ndim = chunks.size() + o.new_axis.size();
  const std::vector<int> added = detail::axes_in(o.new_axis, out_ndim, op, "new_axis");
  for (int d : added) chunks.insert(chunks.begin() + d, axis_chunks({1}));
  if (o.chunks) {
    if (o.chunks->size() != chunks.size()) {
      throw_error<shape_error>(op, ": chunks for ", o.chunks->size(), " axes; the output has ",
                               chunks.size());
    }
    for (std::size_t d = 0; d < chunks.size(); ++d) {
      if ((*o.chunks)[d].size() != chunks[d].size()) {
        throw_error<shape_error>(op, ": axis ", d, " of the output has ", chunks[d].size(),
                                 " chunks (one per input block), not ", (*o.chunks)[d].size());
      }
    }
    chunks = *o.chunks;
  }
  auto n = std::make_shared<node>();
  n->kind = detail::node_kind::blocks;
  for (const axis_chunks& c : chunks) n->shape.push_back(c.start(c.size()));
  element_count(n->shape);
  n->dtype = make_dtype(o.dtype.value_or(first.dtype()).kind);
  n->chunks = std::move(chunks);
  n->inputs = std::move(in_nodes);
  auto p = std::make_shared<detail::blocks_payload>();
  p->f = std::make_shared<const block_function>(std::move(f));
  p->name = op;
  p->drop_axis = dropped;
  p->new_axis = added;
  p->scratch = o.scratch_bytes;
  n->blocks = std::move(p);
  return array(std::move(n));
}

array map_overlap(block_function f, const array& a, std::vector<index_t> depth, boundary edge,
                  map_blocks_options o) {
  if (o.name == "map_blocks") o.name = "map_overlap";
  const std::string& op = o.name;
  detail::node_of(a);
  if (!o.drop_axis.empty() || !o.new_axis.empty() || o.chunks)
    throw_error<value_error>(op, ": drop_axis, new_axis and chunks are for map_blocks");
  const std::size_t ndim = a.ndim();
  if (depth.size() == 1 && ndim > 1) depth.assign(ndim, depth[0]);
  if (depth.size() != ndim) {
    throw_error<shape_error>(op, ": depth for ", depth.size(), " axes; the array has ", ndim);
  }
  for (index_t d : depth) {
    if (d < 0) throw_error<value_error>(op, ": negative depth ", d);
  }
  array input = a;
  if (edge.kind != boundary_kind::none) {
    std::vector<std::pair<index_t, index_t>> widths;
    for (index_t d : depth) widths.emplace_back(d, d);
    const pad_mode mode = edge.kind == boundary_kind::reflect    ? pad_mode::symmetric
                          : edge.kind == boundary_kind::periodic ? pad_mode::wrap
                          : edge.kind == boundary_kind::nearest  ? pad_mode::edge
                                                                 : pad_mode::constant;
    input = pad(a, widths, mode, edge.value);
  }
  array out = map_blocks(std::move(f), {input}, o);
  // map_blocks took the padded input's blocks: give the node the array's own shape and chunks.
  auto n = std::make_shared<node>(detail::node_of(out));
  n->shape = a.shape();
  n->chunks = a.chunks();
  auto p = std::make_shared<detail::blocks_payload>(*n->blocks);
  p->before = depth;
  p->after = depth;
  p->clip = edge.kind == boundary_kind::none;
  n->blocks = std::move(p);
  n->inputs = {input.node()};
  return array(std::move(n));
}

}  // namespace chunkarr
