// reshape and ravel, as dask's reshape_rechunk plans them.
//
// The axes of the two shapes fall into groups whose products agree (reshape_groups): (6, 4, 5)
// -> (24, 5) is {0, 1} -> {0} and {2} -> {1}. Within a group the elements keep their C order,
// so a chunk that is whole along every axis of the group after its leading one (the first
// longer than 1) is a contiguous run of the group's flat order; if that run also starts and ends
// on a multiple of the output's trailing product, it is exactly one output chunk, byte for byte.
// The input is rechunked (only where it must be: those trailing axes made whole, the leading
// one cut at such multiples, about as many elements a chunk as before), and the reshape node's
// chunks are the input's, relabelled. Evaluation of any other region gathers through per-group
// offsets.
#include <algorithm>
#include <numeric>
#include <string>

#include "chunkarr/core/error.hpp"
#include "expr/node.hpp"

namespace chunkarr {

using detail::node;
using detail::node_kind;
using detail::reshape_group;

namespace detail {

std::vector<reshape_group> reshape_groups(const shape_t& in, const shape_t& out) {
  std::vector<reshape_group> groups;
  std::size_t i = 0, j = 0;
  while (i < in.size() && j < out.size()) {
    reshape_group g{i, 0, j, 0};
    index_t p = in[i++], q = out[j++];
    while (p != q) {
      if (p < q) {
        p *= in[i++];
      } else {
        q *= out[j++];
      }
    }
    g.in_end = i;
    g.out_end = j;
    groups.push_back(g);
  }
  // What is left on either side is length-1 axes: they join the last group (or make one).
  if (groups.empty()) groups.push_back({0, 0, 0, 0});
  groups.back().in_end = in.size();
  groups.back().out_end = out.size();
  return groups;
}

}  // namespace detail

namespace {

// The leading axis of [begin, end): the first longer than 1 (`end` when there is none).
std::size_t leading(const shape_t& shape, std::size_t begin, std::size_t end) {
  while (begin < end && shape[begin] == 1) ++begin;
  return begin;
}

index_t product(const shape_t& shape, std::size_t begin, std::size_t end) {
  index_t p = 1;
  for (std::size_t d = begin; d < end; ++d) p *= shape[d];
  return p;
}

// Whether every boundary of `chunks` is a multiple of `unit`.
bool cut_at_multiples(const axis_chunks& chunks, index_t unit) {
  if (unit == 1) return true;
  if (chunks.is_regular()) {
    return chunks.size() <= 1 ||
           (chunks.front() % unit == 0 && (chunks.size() <= 2 || chunks[1] % unit == 0));
  }
  for (index_t i = 1; i < chunks.size(); ++i) {
    if (chunks.start(i) % unit != 0) return false;
  }
  return true;
}

// `chunks` with every length multiplied by num / den (each length a multiple of den / gcd).
axis_chunks scaled(const axis_chunks& chunks, index_t num, index_t den) {
  const index_t g = std::gcd(num, den);
  num /= g;
  den /= g;
  const index_t extent = chunks.extent() / den * num;
  if (chunks.is_regular() && chunks.size() >= 3) {
    return axis_chunks::regular(extent, chunks[1] / den * num, chunks.front() / den * num);
  }
  axis_chunks out;
  for (index_t c : chunks) out.push_back(c / den * num);
  return out;
}

std::string shape_text(const shape_t& shape) {
  std::string s = "(";
  for (std::size_t d = 0; d < shape.size(); ++d) {
    s += (d ? ", " : "") + std::to_string(shape[d]);
  }
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

array reshape(const array& a, shape_t shape) {
  const node& in = detail::node_of(a);
  const index_t size = element_count(in.shape);
  // -1 stands for what the others leave (one at most), as NumPy.
  std::size_t unknown = shape.size();
  index_t known = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1 && unknown == shape.size()) {
      unknown = d;
    } else if (shape[d] == -1) {
      throw_error<value_error>("reshape: can only specify one unknown dimension");
    } else if (shape[d] < 0) {
      throw_error<value_error>("reshape: negative dimensions not allowed (shape ",
                               shape_text(shape), ")");
    } else if (__builtin_mul_overflow(known, shape[d], &known)) {
      known = -1;  // cannot match any array's size
      break;
    }
  }
  if (unknown < shape.size()) {
    if (known > 0 && size % known == 0) {
      shape[unknown] = size / known;
    } else {
      shape[unknown] = -1;  // reported below
    }
  }
  const bool conserved = unknown < shape.size() ? shape[unknown] >= 0 : known == size;
  if (!conserved) {
    throw_error<value_error>("reshape: cannot reshape array of size ", size, " (shape ",
                             shape_text(in.shape), ") into shape ", shape_text([&] {
                               shape_t asked = shape;
                               if (unknown < asked.size()) asked[unknown] = -1;
                               return asked;
                             }()));
  }
  if (shape == in.shape) return a;
  if (size == 0) return full(shape, 0, in.dtype);

  // The input's chunks each group needs, and the output's.
  chunks_t needed = in.chunks;
  chunks_t out_chunks(shape.size());
  for (const reshape_group& g : detail::reshape_groups(in.shape, shape)) {
    const std::size_t li = leading(in.shape, g.in_begin, g.in_end);
    const std::size_t lo = leading(shape, g.out_begin, g.out_end);
    for (std::size_t d = g.out_begin; d < g.out_end; ++d) {
      out_chunks[d] = axis_chunks::regular(shape[d], shape[d]);
    }
    if (li == g.in_end) continue;  // all length 1: one element
    const index_t inner_in = product(in.shape, li + 1, g.in_end);
    const index_t inner_out = product(shape, lo + 1, g.out_end);
    const index_t unit = inner_out / std::gcd(inner_in, inner_out);
    bool whole = true;
    for (std::size_t d = li + 1; d < g.in_end; ++d) whole = whole && in.chunks[d].size() <= 1;
    if (!whole || !cut_at_multiples(in.chunks[li], unit)) {
      // About as many elements a chunk as the input's had over these axes.
      index_t elements = 1;
      for (std::size_t d = g.in_begin; d < g.in_end; ++d) {
        elements = std::min<index_t>(elements * std::max<index_t>(in.chunks[d].longest(), 1),
                                     index_t{1} << 50);
      }
      index_t along = std::max<index_t>(elements / inner_in / unit, 1) * unit;
      along = std::min(along, in.shape[li]);
      for (std::size_t d = li + 1; d < g.in_end; ++d) {
        needed[d] = axis_chunks::regular(in.shape[d], in.shape[d]);
      }
      needed[li] = axis_chunks::regular(in.shape[li], along);
    }
    out_chunks[lo] = scaled(needed[li], inner_in, inner_out);
  }

  std::shared_ptr<const node> input = a.node();
  if (needed != in.chunks) {
    auto r = std::make_shared<node>();
    r->kind = node_kind::rechunk;
    r->shape = in.shape;
    r->dtype = in.dtype;
    r->chunks = std::move(needed);
    r->inputs = {a.node()};
    input = array(std::move(r)).node();
  }
  auto n = std::make_shared<node>();
  n->kind = node_kind::reshape;
  n->shape = std::move(shape);
  n->dtype = in.dtype;
  n->chunks = std::move(out_chunks);
  n->inputs = {std::move(input)};
  return array(std::move(n));
}

array ravel(const array& a) {
  return reshape(a, {-1});
}

array array::reshape(shape_t shape) const {
  return chunkarr::reshape(*this, std::move(shape));
}

array array::ravel() const {
  return chunkarr::ravel(*this);
}

}  // namespace chunkarr
