// Joining and rearranging arrays: concatenate, stack, hstack/vstack/dstack, block,
// atleast_Nd; squeeze, swapaxes, moveaxis, flip, roll, broadcast_to, tile and pad, built from
// joins, slices and transposes (a broadcast or an edge pad reads one index many times: a
// slice of step 0, which only this file makes).
//
// A concatenation is one node over its operands (cast to the promoted dtype first). Its chunks
// are the operands' own: along the joined axis one operand's chunks after another's; along
// every other axis each boundary of any operand (dask's unify_chunks), so each output chunk
// lies inside one chunk of one operand and nothing is rechunked or read twice when the
// operands share their chunking.
#include <algorithm>
#include <optional>
#include <string>

#include "chunkarr/core/error.hpp"
#include "expr/node.hpp"

namespace chunkarr {

using detail::node;
using detail::node_kind;
using detail::node_ptr;

namespace {

// a + b, or past axis_chunks::max_irregular (without overflow) when that is more.
index_t saturated_count(index_t a, index_t b) {
  return b > axis_chunks::max_irregular - a ? axis_chunks::max_irregular + 1 : a + b;
}

// The chunks that every operand's chunks along one axis split into (their common refinement).
axis_chunks refine(const std::vector<const axis_chunks*>& all) {
  bool same = true;
  for (const axis_chunks* c : all) same = same && *c == *all.front();
  if (same) return *all.front();
  index_t count = 0;
  for (const axis_chunks* c : all) count = saturated_count(count, c->size());
  if (count > axis_chunks::max_irregular) {
    throw_error<shape_error>("concatenate: operands with more than ", axis_chunks::max_irregular,
                             " chunks in all along an axis whose chunks differ: rechunk them "
                             "alike first");
  }
  std::vector<index_t> bounds;
  bounds.reserve(static_cast<std::size_t>(count + static_cast<index_t>(all.size())));
  for (const axis_chunks* c : all) {
    for (index_t i = 0; i <= c->size(); ++i) bounds.push_back(c->start(i));
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
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
      index_t total = 0;
      for (const node_ptr& in : inputs) total = saturated_count(total, in->chunks[d].size());
      for (const node_ptr& in : inputs) {
        along.append(in->chunks[d]);
        // Irregular so far is irregular at the end: too many to list, so say so now.
        if (total > axis_chunks::max_irregular && !along.is_regular()) {
          throw_error<shape_error>("concatenate: more than ", axis_chunks::max_irregular,
                                   " chunks of irregular lengths along axis ", d,
                                   ": rechunk the operands to one regular size first");
        }
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

// ---- rearranging ---------------------------------------------------------------------------

namespace {

std::vector<int> normalized_axes(std::vector<int> axes, std::size_t ndim, const char* op) {
  std::vector<bool> seen(ndim, false);
  for (int& a : axes) {
    a = detail::normalize_axis(a, ndim, op);
    if (seen[static_cast<std::size_t>(a)]) {
      throw_error<shape_error>(op, ": repeated axis ", a);
    }
    seen[static_cast<std::size_t>(a)] = true;
  }
  return axes;
}

std::vector<int> every_axis(std::size_t ndim) {
  std::vector<int> axes(ndim);
  for (std::size_t d = 0; d < ndim; ++d) axes[d] = static_cast<int>(d);
  return axes;
}

// Chunks along an axis made by repeating or padding: about 2^20 elements a chunk with the
// others' first chunks, so a broadcast or a pad costs what the array's own chunks do.
index_t made_chunk(const node& in, std::size_t axis, index_t extent) {
  index_t rest = 1;
  for (std::size_t d = 0; d < in.chunks.size(); ++d) {
    if (d != axis && !in.chunks[d].empty()) rest = checked_mul(rest, in.chunks[d].front(), "chunk");
  }
  return std::clamp<index_t>((index_t{1} << 20) / std::max<index_t>(rest, 1), 1,
                             std::max<index_t>(extent, 1));
}

// `a` with its length-1 axis `axis` read `count` times over (a slice of step 0).
array repeat_one(const array& a, std::size_t axis, index_t count) {
  const node& in = detail::node_of(a);
  auto n = std::make_shared<node>();
  n->kind = node_kind::slice;
  n->dtype = in.dtype;
  n->shape = in.shape;
  n->chunks = in.chunks;
  detail::slice_payload& p = n->slicing;
  for (std::size_t d = 0; d < in.shape.size(); ++d) {
    slice_range r{0, in.shape[d], 1, in.shape[d]};
    if (d == axis) {
      r = slice_range{0, 1, 0, count};
      n->shape[d] = count;
      n->chunks[d] = axis_chunks::regular(count, made_chunk(in, d, count));
    }
    p.ranges.push_back(r);
    p.dropped.push_back(false);
    p.output_is_new.push_back(false);
  }
  n->inputs = {a.node()};
  return array(std::move(n));
}

// Subscripts selecting `s` along `axis` and everything along the others.
array along(const array& a, std::size_t axis, index_spec s) {
  std::vector<index_spec> subscripts(a.ndim(), all);
  subscripts[axis] = s;
  return a(subscripts);
}

}  // namespace

array squeeze(const array& a, std::optional<std::vector<int>> axes) {
  const node& in = detail::node_of(a);
  std::vector<bool> drop(in.shape.size(), false);
  if (axes) {
    for (int d : normalized_axes(*axes, in.shape.size(), "squeeze")) {
      if (in.shape[static_cast<std::size_t>(d)] != 1) {
        throw_error<shape_error>(
            "squeeze: cannot select an axis to squeeze out which has size "
            "not equal to one (axis ",
            d, " of shape ", to_string(in.shape), ")");
      }
      drop[static_cast<std::size_t>(d)] = true;
    }
  } else {
    for (std::size_t d = 0; d < drop.size(); ++d) drop[d] = in.shape[d] == 1;
  }
  std::vector<index_spec> subscripts;
  for (bool d : drop) subscripts.push_back(d ? index_spec(0) : all);
  return a(subscripts);
}

array swapaxes(const array& a, int axis1, int axis2) {
  const std::size_t ndim = detail::node_of(a).shape.size();
  const int i = detail::normalize_axis(axis1, ndim, "swapaxes");
  const int j = detail::normalize_axis(axis2, ndim, "swapaxes");
  std::vector<int> order = every_axis(ndim);
  std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  return a.transpose(order);
}

array moveaxis(const array& a, std::vector<int> source, std::vector<int> destination) {
  const std::size_t ndim = detail::node_of(a).shape.size();
  if (source.size() != destination.size()) {
    throw_error<shape_error>(
        "moveaxis: `source` and `destination` arguments must have the same "
        "number of elements (",
        source.size(), " and ", destination.size(), ")");
  }
  source = normalized_axes(std::move(source), ndim, "moveaxis");
  destination = normalized_axes(std::move(destination), ndim, "moveaxis");
  // NumPy's: the axes not moved keep their order; the moved ones go where they are sent.
  std::vector<int> order;
  for (int d : every_axis(ndim)) {
    if (std::find(source.begin(), source.end(), d) == source.end()) order.push_back(d);
  }
  std::vector<std::pair<int, int>> moves;
  for (std::size_t k = 0; k < source.size(); ++k) moves.push_back({destination[k], source[k]});
  std::sort(moves.begin(), moves.end());
  for (const auto& [to, from] : moves) order.insert(order.begin() + to, from);
  return a.transpose(order);
}

array flip(const array& a, std::optional<std::vector<int>> axes) {
  const std::size_t ndim = detail::node_of(a).shape.size();
  std::vector<index_spec> subscripts(ndim, all);
  for (int d : normalized_axes(axes ? *axes : every_axis(ndim), ndim, "flip")) {
    subscripts[static_cast<std::size_t>(d)] = range({}, {}, -1);
  }
  return a(subscripts);
}

array roll(const array& a, std::vector<index_t> shifts, std::vector<int> axes) {
  const std::size_t ndim = detail::node_of(a).shape.size();
  if (axes.empty()) {
    // NumPy rolls the flattened array (by all the shifts), then restores the shape.
    const array flat = ravel(a);
    const index_t n = flat.shape()[0];
    index_t s = 0;
    for (index_t shift : shifts) s = n == 0 ? 0 : (s + shift % n + n) % n;
    return reshape(roll(flat, {s}, {0}), a.shape());
  }
  if (shifts.size() == 1 && axes.size() > 1) shifts.assign(axes.size(), shifts.front());
  if (shifts.size() != axes.size()) {
    throw_error<shape_error>(
        "roll: 'shift' and 'axis' should be scalars or 1D sequences of the "
        "same length (",
        shifts.size(), " and ", axes.size(), ")");
  }
  array out = a;
  for (std::size_t k = 0; k < axes.size(); ++k) {
    const auto d = static_cast<std::size_t>(detail::normalize_axis(axes[k], ndim, "roll"));
    const index_t n = out.shape()[d];
    if (n == 0) continue;
    const index_t s = ((shifts[k] % n) + n) % n;  // repeated axes add up, as NumPy's do
    if (s == 0) continue;
    out = concatenate({along(out, d, range(n - s, {})), along(out, d, range({}, n - s))},
                      static_cast<int>(d));
  }
  return out;
}

array broadcast_to(const array& a, shape_t shape) {
  const node& in = detail::node_of(a);
  if (shape.size() < in.shape.size()) {
    throw_error<shape_error>(
        "broadcast_to: input operand has more dimensions than allowed by the "
        "axis remapping (shape ",
        to_string(in.shape), " to ", to_string(shape), ")");
  }
  for (index_t extent : shape) {
    if (extent < 0) throw_error<shape_error>("broadcast_to: negative extent in ", to_string(shape));
  }
  element_count(shape);
  const std::size_t offset = shape.size() - in.shape.size();
  for (std::size_t d = 0; d < in.shape.size(); ++d) {
    if (in.shape[d] != 1 && in.shape[d] != shape[d + offset]) {
      throw_error<shape_error>(
          "broadcast_to: operands could not be broadcast together with "
          "remapped shapes: ",
          to_string(in.shape), " to ", to_string(shape));
    }
  }
  array out = a;
  for (std::size_t d = 0; d < offset; ++d) out = out(newaxis, ellipsis);
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (out.shape()[d] != shape[d]) out = repeat_one(out, d, shape[d]);
  }
  return out;
}

array tile(const array& a, std::vector<index_t> reps) {
  detail::node_of(a);
  for (index_t r : reps) {
    if (r < 0) throw_error<value_error>("tile: negative repetition ", r);
  }
  array out = a;
  while (out.ndim() < reps.size()) out = out(newaxis, ellipsis);
  while (reps.size() < out.ndim()) reps.insert(reps.begin(), 1);
  for (std::size_t d = 0; d < reps.size(); ++d) {
    if (reps[d] == 1) continue;
    if (reps[d] > 65536) {
      throw_error<value_error>("tile: ", reps[d], " repetitions along axis ", d,
                               " (at most 65536; broadcast_to repeats a length-1 axis any number "
                               "of times)");
    }
    if (reps[d] == 0) {
      out = along(out, d, range(0, 0));
      continue;
    }
    out = concatenate(std::vector<array>(static_cast<std::size_t>(reps[d]), out),
                      static_cast<int>(d));
  }
  return out;
}

array repeat(const array& a, std::vector<index_t> repeats, std::optional<int> axis) {
  const array in = axis ? a : ravel(a);  // NumPy repeats the flattened array
  const auto d =
      static_cast<std::size_t>(detail::normalize_axis(axis.value_or(0), in.ndim(), "repeat"));
  const index_t n = in.shape()[d];
  for (index_t r : repeats) {
    if (r < 0) throw_error<value_error>("repeat: negative dimensions are not allowed (", r, ")");
  }
  if (repeats.size() == 1) {
    // Each element r times: a new axis of r reads of it (step 0), merged into the axis by a
    // reshape, so the result's chunks are the input's, r times as long.
    const index_t r = repeats.front();
    index_t length = 0;
    if (__builtin_mul_overflow(n, r, &length)) {
      throw_error<shape_error>("repeat: ", n, " elements ", r, " times overflow a 64-bit length");
    }
    if (r == 1) return in;
    if (length == 0) return along(in, d, range(0, 0));
    shape_t wide = expand_dims(in, static_cast<int>(d) + 1).shape();
    wide[d + 1] = r;
    shape_t shape = in.shape();
    shape[d] = length;
    return reshape(broadcast_to(expand_dims(in, static_cast<int>(d) + 1), wide), shape);
  }
  if (static_cast<index_t>(repeats.size()) != n) {
    throw_error<shape_error>("repeat: operands could not be broadcast together with shape (", n,
                             ",) (", repeats.size(), ",)");
  }
  // A count per element: the indices they make, taken.
  constexpr index_t most = index_t{1} << 27;
  index_t total = 0;
  for (index_t r : repeats) {
    if (r > most - total) {
      throw_error<value_error>("repeat: more than ", most,
                               " elements in all from per-element counts (one count for all "
                               "has no limit)");
    }
    total += r;
  }
  std::vector<index_t> indices;
  indices.reserve(static_cast<std::size_t>(total));
  for (index_t i = 0; i < n; ++i)
    indices.insert(indices.end(), static_cast<std::size_t>(repeats[static_cast<std::size_t>(i)]),
                   i);
  return take(in, std::move(indices), static_cast<int>(d));
}

namespace {

// Where position j (from -before to n + after - 1) of a padded axis of length n reads from.
index_t pad_source(pad_mode mode, index_t j, index_t n) {
  auto mod = [](index_t x, index_t m) { return ((x % m) + m) % m; };
  switch (mode) {
    case pad_mode::edge:
      return std::clamp<index_t>(j, 0, n - 1);
    case pad_mode::reflect: {
      if (n == 1) return 0;
      const index_t m = mod(j, 2 * n - 2);
      return m < n ? m : 2 * n - 2 - m;
    }
    case pad_mode::symmetric: {
      const index_t m = mod(j, 2 * n);
      return m < n ? m : 2 * n - 1 - m;
    }
    case pad_mode::wrap:
      return mod(j, n);
    case pad_mode::constant:
      break;
  }
  return j;
}

const char* name_of(pad_mode m) {
  switch (m) {
    case pad_mode::constant:
      return "constant";
    case pad_mode::edge:
      return "edge";
    case pad_mode::reflect:
      return "reflect";
    case pad_mode::symmetric:
      return "symmetric";
    case pad_mode::wrap:
      return "wrap";
  }
  return "?";
}

// The most parts one axis of a pad may be made of: each run of a reflection is one.
constexpr index_t max_pad_runs = 4096;

// Axis `d` of `a` padded by (before, after) as `mode` reads: runs of consecutive sources
// (forwards, backwards, or one repeated), each a slice, joined.
array pad_axis(const array& a, std::size_t d, index_t before, index_t after, pad_mode mode) {
  const index_t n = a.shape()[d];
  std::vector<array> parts;
  index_t j = -before;
  const index_t end = n + after;
  while (j < end) {
    const index_t s = pad_source(mode, j, n);
    index_t step = 0, length = 1;
    if (j + 1 < end) {
      const index_t next = pad_source(mode, j + 1, n);
      if (next - s >= -1 && next - s <= 1) {  // goes on: forwards, backwards or repeated
        step = next - s;
        length = 2;
        while (j + length < end && pad_source(mode, j + length, n) == s + step * length) ++length;
      }
    }
    if (static_cast<index_t>(parts.size()) == max_pad_runs) {
      throw_error<value_error>("pad: padding axis ", d, " of length ", n, " by (", before, ", ",
                               after, ") in mode '", name_of(mode), "' takes more than ",
                               max_pad_runs, " pieces; pad in steps or use a smaller width");
    }
    if (step == 1) {
      parts.push_back(along(a, d, range(s, s + length)));
    } else if (step == -1) {
      parts.push_back(
          along(a, d, range(s, s - length < 0 ? std::nullopt : std::optional(s - length), -1)));
    } else {
      parts.push_back(repeat_one(along(a, d, range(s, s + 1)), d, length));
    }
    j += length;
  }
  return concatenate(parts, static_cast<int>(d));
}

}  // namespace

array pad(const array& a, std::vector<std::pair<index_t, index_t>> widths, pad_mode mode,
          scalar constant_value) {
  const node& in = detail::node_of(a);
  const std::size_t ndim = in.shape.size();
  if (widths.size() == 1 && ndim > 1) widths.assign(ndim, widths.front());
  if (widths.size() != ndim) {
    throw_error<shape_error>("pad: pad_width has ", widths.size(), " pairs for an array of shape ",
                             to_string(in.shape), " (one pair, or one per axis)");
  }
  array out = a;
  for (std::size_t d = 0; d < ndim; ++d) {
    const auto [before, after] = widths[d];
    if (before < 0 || after < 0) {
      throw_error<value_error>("pad: index can't contain negative values (", before, ", ", after,
                               ") for axis ", d);
    }
    if (before == 0 && after == 0) continue;
    if (mode == pad_mode::constant) {
      std::vector<array> parts;
      auto piece = [&](index_t width) {
        shape_t shape = out.shape(), chunks(ndim);
        shape[d] = width;
        const node& cur = detail::node_of(out);
        for (std::size_t k = 0; k < ndim; ++k) {
          chunks[k] = k == d ? made_chunk(cur, d, width)
                             : (cur.chunks[k].empty() ? 1 : cur.chunks[k].front());
        }
        // Along the other axes, the array's own chunks (however irregular), so the join
        // needs no common refinement of two chunkings.
        auto n = std::make_shared<node>(
            detail::node_of(full(shape, constant_value, out.dtype(), chunks)));
        for (std::size_t k = 0; k < ndim; ++k) {
          if (k != d) n->chunks[k] = cur.chunks[k];
        }
        return array(std::move(n));
      };
      if (before > 0) parts.push_back(piece(before));
      parts.push_back(out);
      if (after > 0) parts.push_back(piece(after));
      out = concatenate(parts, static_cast<int>(d));
      continue;
    }
    if (out.shape()[d] == 0) {
      throw_error<value_error>("pad: can't extend empty axis ", d,
                               " using modes other than "
                               "'constant' (mode '",
                               name_of(mode), "')");
    }
    out = pad_axis(out, d, before, after, mode);
  }
  return out;
}

// ---- selecting ---------------------------------------------------------------------------

array take(const array& a, std::vector<index_t> indices, int axis) {
  const node& in = detail::node_of(a);
  if (in.shape.empty()) throw_error<shape_error>("take: a 0-d array has no axis to take from");
  const auto d = static_cast<std::size_t>(detail::normalize_axis(axis, in.shape.size(), "take"));
  const index_t n = in.shape[d];
  for (index_t& i : indices) {
    if (i < -n || i >= n) {
      throw_error<shape_error>("take: index ", i, " is out of bounds for axis ", d, " with size ",
                               n, " (shape ", to_string(in.shape), ")");
    }
    if (i < 0) i += n;
  }
  // Output chunks: runs of indices that fall in one input chunk, at most that chunk long, so a
  // task reads one input chunk along the axis (sorted indices cost one task per chunk touched).
  const axis_chunks& from = in.chunks[d];
  axis_chunks along_axis;
  index_t run = 0, chunk = -1;
  for (index_t i : indices) {
    const index_t c = from.find(i);
    if (run > 0 && (c != chunk || run == from[c])) {
      along_axis.push_back(run);
      run = 0;
    }
    chunk = c;
    ++run;
  }
  if (run > 0) along_axis.push_back(run);
  auto out = std::make_shared<node>();
  out->kind = node_kind::take;
  out->dtype = in.dtype;
  out->shape = in.shape;
  out->shape[d] = static_cast<index_t>(indices.size());
  out->chunks = in.chunks;
  out->chunks[d] = std::move(along_axis);
  out->axis = static_cast<int>(d);
  out->taken = std::make_shared<const std::vector<index_t>>(std::move(indices));
  out->inputs = {a.node()};
  return array(std::move(out));
}

array vindex(const array& a, const std::vector<std::vector<index_t>>& indices) {
  const node& in = detail::node_of(a);
  const std::size_t k = indices.size();
  if (k == 0 || k > in.shape.size()) {
    throw_error<shape_error>("vindex: ", k, " index arrays for an array of shape ",
                             to_string(in.shape), " (1 to ", in.shape.size(), ")");
  }
  const std::size_t count = indices[0].size();
  for (const std::vector<index_t>& along : indices) {
    if (along.size() != count) {
      throw_error<shape_error>("vindex: index arrays of lengths ", count, " and ", along.size(),
                               " do not broadcast");
    }
  }
  // The coordinates point by point (normalised), and output chunks: runs of points in one
  // input chunk, at most as many as that chunk has positions along the indexed axes.
  std::vector<index_t> coords(count * k);
  axis_chunks along_points;
  index_t run = 0, most = 1;
  shape_t chunk(k, -1), previous(k, -1);
  for (std::size_t p = 0; p < count; ++p) {
    index_t positions = 1;
    for (std::size_t d = 0; d < k; ++d) {
      index_t i = indices[d][p];
      const index_t n = in.shape[d];
      if (i < -n || i >= n) {
        throw_error<shape_error>("vindex: index ", i, " is out of bounds for axis ", d,
                                 " with size ", n, " (shape ", to_string(in.shape), ")");
      }
      if (i < 0) i += n;
      coords[p * k + d] = i;
      chunk[d] = in.chunks[d].find(i);
      positions *= in.chunks[d][chunk[d]];
    }
    if (run > 0 && (chunk != previous || run == most)) {
      along_points.push_back(run);
      run = 0;
    }
    previous = chunk;
    most = positions;
    ++run;
  }
  if (run > 0) along_points.push_back(run);
  auto out = std::make_shared<node>();
  out->kind = node_kind::points;
  out->dtype = in.dtype;
  out->shape = {static_cast<index_t>(count)};
  out->shape.insert(out->shape.end(), in.shape.begin() + static_cast<std::ptrdiff_t>(k),
                    in.shape.end());
  out->chunks = {std::move(along_points)};
  out->chunks.insert(out->chunks.end(), in.chunks.begin() + static_cast<std::ptrdiff_t>(k),
                     in.chunks.end());
  out->axis = static_cast<int>(k);
  out->taken = std::make_shared<const std::vector<index_t>>(std::move(coords));
  out->inputs = {a.node()};
  return array(std::move(out));
}

array compress(const std::vector<bool>& condition, const array& a, int axis) {
  const node& in = detail::node_of(a);
  if (in.shape.empty()) throw_error<shape_error>("compress: a 0-d array has no axis");
  const auto d =
      static_cast<std::size_t>(detail::normalize_axis(axis, in.shape.size(), "compress"));
  if (static_cast<index_t>(condition.size()) > in.shape[d]) {
    throw_error<shape_error>("compress: a boolean index of length ", condition.size(),
                             " does not match axis ", d, " of length ", in.shape[d], " (shape ",
                             to_string(in.shape), ")");
  }
  std::vector<index_t> indices;
  for (std::size_t i = 0; i < condition.size(); ++i) {
    if (condition[i]) indices.push_back(static_cast<index_t>(i));
  }
  return take(a, std::move(indices), static_cast<int>(d));
}

}  // namespace chunkarr
