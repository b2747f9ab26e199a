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

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
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
