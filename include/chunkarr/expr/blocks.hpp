// Your own code per chunk: map_blocks and map_overlap (dask's), run inside the engine's tasks.
//
// The function receives each block of its inputs and fills the output's block. It runs where
// the block is needed, inside the task that needs it: a map_blocks under an elementwise
// expression or a reduction is one task per chunk, nothing stored in between. map_overlap's
// blocks carry a halo read straight from the source (a region read — no overlapped copy of
// the array is ever made), so chunks smaller than the depth work: the halo spans as many
// neighbours as it needs.
//
// Each call of the function may run on any thread, concurrently with others: it must not
// share mutable state without synchronisation. An exception it throws stops the run and
// surfaces from compute/store with the block's chunk index.
#pragma once

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "chunkarr/expr/array.hpp"
#include "chunkarr/expr/block_function.hpp"
#include "xtensor/xadapt.hpp"
#include "xtensor/xarray.hpp"
#include "xtensor/xview.hpp"

namespace chunkarr {

struct map_blocks_options {
  std::optional<chunkarr::dtype> dtype;  // the output's (default: the first input's)
  // The output's chunks when they differ from the inputs' (as many chunks along each axis as
  // the output's axes have in the inputs, after drop_axis and new_axis); they give its shape.
  std::optional<chunks_t> chunks;
  std::vector<int> drop_axis;       // input axes the function removes (one chunk each)
  std::vector<int> new_axis;        // output positions of axes it adds (one chunk each, size 1
                                    // unless `chunks` says otherwise)
  index_t scratch_bytes = 0;        // what the function allocates beyond its inputs and output
  std::string name = "map_blocks";  // for messages and the task graph
};

/// dask's map_blocks: `f` maps the blocks of `inputs` (one shape; the others' chunks are
/// aligned to the first's) to the output's blocks.
array map_blocks(block_function f, const std::vector<array>& inputs,
                 map_blocks_options options = {});

/// One input of blockwise: the array and a letter per axis (dask's index notation).
struct blockwise_input {
  array values;
  std::string index;
};

struct blockwise_options {
  std::optional<chunkarr::dtype> dtype;  // the output's (default: the first input's)
  // Output letters that no input has: their lengths (one chunk each).
  std::map<char, index_t> new_axes;
  // Output letters whose chunks the function changes: the new sizes, one per input chunk.
  std::map<char, std::vector<index_t>> adjust_chunks;
  index_t scratch_bytes = 0;       // what the function allocates beyond its inputs and output
  std::string name = "blockwise";  // for messages and the task graph
};

/// dask's blockwise with index notation: `blockwise(f, "ij", {{a, "ik"}, {b, "kj"}})` calls
/// `f` once per output chunk (i, j) with a's blocks (i, all of k) and b's (all of k, j).
/// A letter names one axis length and one chunking: every input with that letter is
/// rechunked to the first such input's chunks along it. Letters missing from the output
/// are contracted: their whole length is one block (dask's concatenate=True), which the
/// planner checks against the budget. The output's chunks along a letter are its inputs'
/// (or `adjust_chunks`'); `new_axes` adds letters of its own.
array blockwise(block_function f, const std::string& out_index,
                const std::vector<blockwise_input>& inputs, blockwise_options options = {});

struct reduction_options {
  bool keepdims = false;
  std::string name = "reduction";  // for messages and the task graph
};

/// A reduction with the user's state, on the engine's fixed-order tree (bit-identical for any
/// thread count and budget): per output element, `init` makes a state, `fold` adds a block's
/// values in C order, `combine` folds a later block's state into an earlier one's, and
/// `finalize` writes the output value (of dtype `out`). Over `axes` (all when empty).
array reduction(reduction_functions functions, const array& a, chunkarr::dtype out,
                axes_t axes = {}, reduction_options options = {});

/// How map_overlap fills the halo beyond the array's edges (dask's names).
enum class boundary_kind {
  reflect,   // d c b a | a b c d | d c b a
  periodic,  // wraps around
  nearest,   // repeats the edge value
  constant,  // `value`
  none,      // no halo at the edges: blocks there are smaller
};
struct boundary {
  boundary_kind kind = boundary_kind::reflect;
  double value = 0;
};

/// dask's map_overlap: each block of `a` extended by depth[d] elements on both sides of axis
/// d (one depth for every axis when one is given), filled at the array's edges as `edge`
/// says; `f` fills the output block of the chunk's own shape (block_info::core says where the
/// chunk sits in the extended input). No drop_axis or new_axis.
array map_overlap(block_function f, const array& a, std::vector<index_t> depth, boundary edge = {},
                  map_blocks_options options = {});

// ---- typed forms (xtensor) --------------------------------------------------------------

namespace detail {
template <class T>
auto adapt_block(const block_view& b) {
  std::vector<std::size_t> shape(b.shape.begin(), b.shape.end());
  std::size_t n = 1;
  for (std::size_t e : shape) n *= e;
  return xt::adapt(reinterpret_cast<const T*>(b.data), n, xt::no_ownership(), shape);
}
void check_block_type(const array& a, scalar_kind expected, const char* op);
}  // namespace detail

/// map_blocks with `f(block)` taking an xtensor view of a T block and returning the output
/// block (any xtensor expression of the output block's shape; its value type is the output's
/// dtype). T must be `a`'s element type.
template <class T, class F>
array map_blocks(F f, const array& a, map_blocks_options options = {}) {
  detail::check_block_type(a, kind_of<T>::value, "map_blocks");
  using result_t = std::decay_t<decltype(f(detail::adapt_block<T>(block_view{})))>;
  using U = typename result_t::value_type;
  if (!options.dtype) options.dtype = make_dtype(kind_of<U>::value);
  return map_blocks(
      [f](std::span<const block_view> in, block_span out, const block_info&) {
        const xt::xarray<U> values = f(detail::adapt_block<T>(in[0]));
        std::vector<std::size_t> shape(out.shape.begin(), out.shape.end());
        auto target =
            xt::adapt(reinterpret_cast<U*>(out.data), values.size(), xt::no_ownership(), shape);
        target = values;
      },
      {a}, std::move(options));
}

/// blockwise with `f(blocks)` taking a vector of xtensor views of T blocks (one per input, in
/// order; every input's element type must be T) and returning the output block.
template <class T, class F>
array blockwise(F f, const std::string& out_index, const std::vector<blockwise_input>& inputs,
                blockwise_options options = {}) {
  for (const blockwise_input& in : inputs)
    detail::check_block_type(in.values, kind_of<T>::value, "blockwise");
  using view_t = decltype(detail::adapt_block<T>(block_view{}));
  using result_t = std::decay_t<decltype(f(std::declval<const std::vector<view_t>&>()))>;
  using U = typename result_t::value_type;
  if (!options.dtype) options.dtype = make_dtype(kind_of<U>::value);
  return blockwise(
      [f](std::span<const block_view> in, block_span out, const block_info&) {
        std::vector<view_t> views;
        for (const block_view& b : in) views.push_back(detail::adapt_block<T>(b));
        const xt::xarray<U> values = f(views);
        std::vector<std::size_t> shape(out.shape.begin(), out.shape.end());
        if (!std::equal(values.shape().begin(), values.shape().end(), shape.begin(), shape.end()))
          throw std::length_error("the function returned a block of another shape");
        auto target =
            xt::adapt(reinterpret_cast<U*>(out.data), values.size(), xt::no_ownership(), shape);
        target = values;
      },
      out_index, inputs, std::move(options));
}

/// reduction with a typed state: `init` is the empty state (trivially copyable),
/// `fold(State&, T value)`, `combine(State&, const State&)` and `finalize(const State&)`
/// returning the output value, whose type is the output's dtype. T must be `a`'s element
/// type. For example the range of each row, `reduction<float>(a, range{}, fold, combine,
/// [](const range& r) { return r.hi - r.lo; }, {1})`.
template <class T, class State, class Fold, class Combine, class Finalize>
array reduction(const array& a, State init, Fold fold, Combine combine, Finalize finalize,
                axes_t axes = {}, reduction_options options = {}) {
  static_assert(std::is_trivially_copyable_v<State>, "a reduction's state is copied as bytes");
  detail::check_block_type(a, kind_of<T>::value, options.name.c_str());
  using U = std::decay_t<decltype(finalize(std::declval<const State&>()))>;
  reduction_functions r;
  r.name = options.name;
  r.state_bytes = sizeof(State);
  r.init = [init](std::byte* s) { std::memcpy(s, &init, sizeof(State)); };
  r.fold = [fold](std::byte* s, const std::byte* values, index_t n, index_t stride) {
    State state;
    std::memcpy(&state, s, sizeof(State));
    for (index_t i = 0; i < n; ++i) {
      T v;
      std::memcpy(&v, values + static_cast<std::size_t>(i * stride) * sizeof(T), sizeof(T));
      fold(state, v);
    }
    std::memcpy(s, &state, sizeof(State));
  };
  r.combine = [combine](std::byte* into, const std::byte* from) {
    State a, b;
    std::memcpy(&a, into, sizeof(State));
    std::memcpy(&b, from, sizeof(State));
    combine(a, static_cast<const State&>(b));
    std::memcpy(into, &a, sizeof(State));
  };
  r.finalize = [finalize](const std::byte* s, std::byte* out) {
    State state;
    std::memcpy(&state, s, sizeof(State));
    const U value = finalize(static_cast<const State&>(state));
    std::memcpy(out, &value, sizeof(U));
  };
  return reduction(std::move(r), a, make_dtype(kind_of<U>::value), std::move(axes),
                   std::move(options));
}

/// map_overlap with `f(block)` as dask's: it takes the extended block and returns one of the
/// same shape, whose halo is then trimmed off.
template <class T, class F>
array map_overlap(F f, const array& a, std::vector<index_t> depth, boundary edge = {},
                  map_blocks_options options = {}) {
  detail::check_block_type(a, kind_of<T>::value, "map_overlap");
  using result_t = std::decay_t<decltype(f(detail::adapt_block<T>(block_view{})))>;
  using U = typename result_t::value_type;
  if (!options.dtype) options.dtype = make_dtype(kind_of<U>::value);
  return map_overlap(
      [f](std::span<const block_view> in, block_span out, const block_info& info) {
        const xt::xarray<U> values = f(detail::adapt_block<T>(in[0]));
        xt::xstrided_slice_vector core;
        for (std::size_t d = 0; d < info.core.ndim(); ++d)
          core.push_back(xt::range(info.core.start[d], info.core.stop[d]));
        std::vector<std::size_t> shape(out.shape.begin(), out.shape.end());
        std::size_t n = 1;
        for (std::size_t e : shape) n *= e;
        auto target = xt::adapt(reinterpret_cast<U*>(out.data), n, xt::no_ownership(), shape);
        target = xt::strided_view(values, core);
      },
      a, std::move(depth), edge, std::move(options));
}

}  // namespace chunkarr
