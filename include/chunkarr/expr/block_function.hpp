// The type of a user's per-block function (map_blocks, map_overlap: see blocks.hpp), apart
// from the xtensor forms so that the engine's internals can hold one without xtensor.
#pragma once

#include <functional>
#include <span>

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

}  // namespace chunkarr
