// The regular grid of chunks that tiles an array.
//
// A `chunk_grid` holds an array shape and a chunk shape and answers the questions every layer
// asks: how many chunks there are along each axis and in all, which region a chunk covers
// (edge chunks are clipped to the array), and which chunks a box touches. Construction
// validates both shapes, so every later computation is free of overflow. Immutable and
// thread-safe.
#pragma once

#include "chunkarr/core/index.hpp"
#include "chunkarr/core/slice.hpp"

#include <utility>

namespace chunkarr {

class chunk_grid {
 public:
  /// Throws shape_error for a negative extent, a non-positive chunk extent, mismatched
  /// dimension counts, more than max_ndim dimensions, or counts that overflow int64.
  chunk_grid(shape_t shape, shape_t chunks);

  const shape_t& shape() const { return shape_; }
  const shape_t& chunks() const { return chunks_; }
  std::size_t ndim() const { return shape_.size(); }

  /// Chunks along each axis: ceil(shape / chunks) (0 along a zero-length axis).
  const shape_t& chunk_counts() const { return counts_; }
  /// Chunks in all (1 for a 0-d array, 0 when any axis has length 0).
  index_t chunk_count() const { return total_; }
  /// Elements in one full chunk.
  index_t chunk_elements() const { return chunk_elements_; }

  /// The region of the array that chunk `index` covers, clipped at the array's edge.
  box chunk_box(std::span<const index_t> index) const;
  /// The chunk indices `[first, last)` per axis whose chunks intersect `region`.
  box chunks_touching(const box& region) const;

  /// The chunk index of the `linear`-th chunk in C order.
  shape_t unravel(index_t linear) const;
  /// The position of chunk `index` in C order (unravel's inverse).
  index_t linear_index(std::span<const index_t> index) const;

  friend bool operator==(const chunk_grid&, const chunk_grid&) = default;

 private:
  shape_t shape_;
  shape_t chunks_;
  shape_t counts_;
  index_t total_ = 0;
  index_t chunk_elements_ = 0;
};

/// Calls `f(index)` for every index in `[b.start, b.stop)` in C order.
template <class F>
void for_each_index(const box& b, F&& f) {
  if (b.empty()) return;
  shape_t index = b.start;
  const std::size_t n = b.ndim();
  while (true) {
    f(std::as_const(index));
    std::size_t d = n;
    while (d > 0) {
      --d;
      if (++index[d] < b.stop[d]) break;
      index[d] = b.start[d];
      if (d == 0) return;
    }
    if (n == 0) return;
  }
}

}  // namespace chunkarr
