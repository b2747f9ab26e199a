// map_blocks and map_overlap: the checks and the blocks node (evaluated in
// src/exec/blocks.cpp, one block per chunk, inside whichever task needs it).
#include "chunkarr/expr/blocks.hpp"

#include <algorithm>
#include <map>
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

array blockwise(block_function f, const std::string& out_index,
                const std::vector<blockwise_input>& inputs, blockwise_options o) {
  const std::string& op = o.name;
  if (!f) throw_error<value_error>(op, ": no function");
  if (inputs.empty()) throw_error<value_error>(op, ": no input arrays");
  if (o.scratch_bytes < 0) throw_error<value_error>(op, ": negative scratch_bytes");
  const auto repeats = [](const std::string& index) {
    return std::set<char>(index.begin(), index.end()).size() != index.size();
  };
  if (repeats(out_index))
    throw_error<value_error>(op, ": the output index '", out_index, "' repeats a letter");
  // Each letter's length and chunks: the first input that has it.
  std::map<char, axis_chunks> letters;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const blockwise_input& in = inputs[k];
    detail::node_of(in.values);
    if (in.index.size() != in.values.ndim()) {
      throw_error<shape_error>(op, ": input ", k, " has ", in.values.ndim(), " axes but index '",
                               in.index, "' names ", in.index.size());
    }
    if (repeats(in.index))
      throw_error<value_error>(op, ": input ", k, "'s index '", in.index, "' repeats a letter");
    for (std::size_t d = 0; d < in.index.size(); ++d) {
      const axis_chunks& c = in.values.chunks()[d];
      const auto [it, fresh] = letters.emplace(in.index[d], c);
      if (!fresh && it->second.extent() != c.extent()) {
        throw_error<shape_error>(op, ": letter '", in.index[d], "' is ", it->second.extent(),
                                 " long in an earlier input and ", c.extent(), " in input ", k,
                                 " (shape ", to_string(in.values.shape()), ")");
      }
    }
  }
  for (const auto& [letter, length] : o.new_axes) {
    if (out_index.find(letter) == std::string::npos)
      throw_error<value_error>(op, ": new axis '", letter, "' is not in the output index");
    if (letters.count(letter))
      throw_error<value_error>(op, ": new axis '", letter, "' is an input's axis");
    if (length < 0) throw_error<shape_error>(op, ": new axis '", letter, "' of length ", length);
    letters[letter] = length ? axis_chunks({length}) : axis_chunks();
  }
  chunks_t chunks;
  for (char letter : out_index) {
    const auto it = letters.find(letter);
    if (it == letters.end()) {
      throw_error<value_error>(op, ": output letter '", letter,
                               "' is in no input (give its length in new_axes)");
    }
    chunks.push_back(it->second);
  }
  for (const auto& [letter, sizes] : o.adjust_chunks) {
    const std::size_t d = out_index.find(letter);
    if (d == std::string::npos)
      throw_error<value_error>(op, ": adjust_chunks names '", letter, "', not an output letter");
    if (static_cast<index_t>(sizes.size()) != chunks[d].size()) {
      throw_error<shape_error>(op, ": adjust_chunks gives ", sizes.size(), " chunks for '", letter,
                               "', which has ", chunks[d].size());
    }
    axis_chunks adjusted;
    for (index_t size : sizes) {
      if (size <= 0)
        throw_error<shape_error>(op, ": adjust_chunks gives '", letter, "' a chunk of ", size);
      adjusted.push_back(size);
    }
    chunks[d] = adjusted;
  }
  std::vector<detail::node_ptr> in_nodes;
  std::vector<std::vector<int>> axis_map;
  for (const blockwise_input& in : inputs) {
    chunks_t unified;
    std::vector<int> map;
    for (char letter : in.index) {
      unified.push_back(letters.at(letter));
      const std::size_t d = out_index.find(letter);
      map.push_back(d == std::string::npos ? -1 : static_cast<int>(d));
    }
    in_nodes.push_back(detail::in_chunks(in.values, unified).node());
    axis_map.push_back(std::move(map));
  }
  auto n = std::make_shared<node>();
  n->kind = detail::node_kind::blocks;
  for (const axis_chunks& c : chunks) n->shape.push_back(c.extent());
  element_count(n->shape);
  n->dtype = make_dtype(o.dtype.value_or(inputs[0].values.dtype()).kind);
  n->chunks = std::move(chunks);
  n->inputs = std::move(in_nodes);
  auto p = std::make_shared<detail::blocks_payload>();
  p->f = std::make_shared<const block_function>(std::move(f));
  p->name = op;
  p->axis_map = std::move(axis_map);
  p->scratch = o.scratch_bytes;
  n->blocks = std::move(p);
  return array(std::move(n));
}

array reduction(reduction_functions r, const array& a, dtype out, axes_t axes,
                reduction_options o) {
  const std::string& op = o.name;
  const node& in = detail::node_of(a);
  if (!r.init || !r.fold || !r.combine || !r.finalize)
    throw_error<value_error>(op, ": init, fold, combine and finalize are all needed");
  if (r.state_bytes == 0) throw_error<value_error>(op, ": a state of 0 bytes");
  if (r.name.empty()) r.name = op;
  const std::size_t ndim = in.shape.size();
  detail::reduction_payload p;
  p.keepdims = o.keepdims;
  p.reduced.assign(ndim, axes.empty());
  for (int axis : axes) {
    const int d = detail::normalize_axis(axis, ndim, op.c_str());
    if (p.reduced[static_cast<std::size_t>(d)])
      throw_error<shape_error>(op, ": duplicate value in 'axis'");
    p.reduced[static_cast<std::size_t>(d)] = true;
  }
  p.user = std::make_shared<const reduction_functions>(std::move(r));
  auto n = std::make_shared<node>();
  n->kind = detail::node_kind::reduction;
  n->dtype = make_dtype(out.kind);
  for (std::size_t d = 0; d < ndim; ++d) {
    if (!p.reduced[d]) {
      n->shape.push_back(in.shape[d]);
      n->chunks.push_back(in.chunks[d]);
    } else if (o.keepdims) {
      n->shape.push_back(1);
      n->chunks.push_back({1});
    }
  }
  n->reduction = std::move(p);
  n->inputs = {a.node()};
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
