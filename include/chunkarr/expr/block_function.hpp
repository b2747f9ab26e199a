// The types of a user's per-block function (map_blocks, map_overlap, blockwise) and of a
// user's reduction (see blocks.hpp), apart from the xtensor forms so that the engine's internals
// can hold one without xtensor.
#pragma once

#include <functional>
#include <span>
#include <string>

#include "chunkarr/core/dtype.hpp"
#include "chunkarr/core/index.hpp"
#include "chunkarr/core/slice.hpp"

namespace chunkarr {

/// One input block: its values in C order (native byte order), its shape and dtype.
struct block_view {
  const std::byte* data = nullptr;
  shape_t shape;
  chunkarr::dtype dtype;
};

/// The output block to fill.
struct block_span {
  std::byte* data = nullptr;
  shape_t shape;
  chunkarr::dtype dtype;
};

/// Where a block sits.
struct block_info {
  shape_t chunk;  // the output chunk's index
  box region;     // the output chunk's region in the output
  // map_overlap: where the chunk's own values sit in the (halo-extended) input block; the
  // whole input block for map_blocks.
  box core;
};

using block_function =
    std::function<void(std::span<const block_view> inputs, block_span out, const block_info&)>;

/// A reduction with the user's state (see reduction in blocks.hpp), type-erased: states are
/// `state_bytes` of trivially copyable bytes; values arrive as the input's type.
struct reduction_functions {
  std::string name = "reduction";
  std::size_t state_bytes = 0;
  std::function<void(std::byte* state)> init;
  // Folds `n` values, `stride` elements apart, in order, into the state.
  std::function<void(std::byte* state, const std::byte* values, index_t n, index_t stride)> fold;
  // Folds `from`, whose values come later in C order, into `into`.
  std::function<void(std::byte* into, const std::byte* from)> combine;
  // Writes the output value (the reduction's dtype) of a final state.
  std::function<void(const std::byte* state, std::byte* out)> finalize;
};

}  // namespace chunkarr
