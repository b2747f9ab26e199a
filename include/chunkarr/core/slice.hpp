// Slices and boxes.
//
// A `slice` is Python's `start:stop:step`, with the same semantics: negative indices count
// from the end, out-of-range bounds clip, a negative step walks backwards. `normalize` turns
// it into concrete indices for one dimension, exactly as `slice.indices(n)` does.
//
// A `box` is a unit-step hyper-rectangle `[start, stop)` per dimension: the region a chunk
// covers, or the region a read or write touches. Boxes are plain values.
#pragma once

#include <optional>
#include <string>

#include "chunkarr/core/index.hpp"

namespace chunkarr {

/// The concrete form of a slice over one dimension: `count` indices start, start+step, …
struct slice_range {
  index_t start = 0;
  index_t stop = 0;  // as Python's slice.indices() returns it
  index_t step = 1;
  index_t count = 0;  // number of selected indices

  friend bool operator==(const slice_range&, const slice_range&) = default;
};

struct slice {
  std::optional<index_t> start;
  std::optional<index_t> stop;
  std::optional<index_t> step;  // never 0

  /// Resolves the slice against a dimension of length `n`, as Python's slice.indices(n)
  /// followed by len(range(...)). Throws value_error for step 0.
  slice_range normalize(index_t n) const;
};

/// Resolves a single (possibly negative) index into [0, n); shape_error when out of range.
index_t normalize_index(index_t i, index_t n);

/// A unit-step region: start[d] <= i < stop[d] in every dimension d.
struct box {
  shape_t start;
  shape_t stop;

  /// The whole of an array of shape `shape`.
  static box whole(std::span<const index_t> shape);

  std::size_t ndim() const { return start.size(); }
  shape_t shape() const;
  /// Number of elements (checked).
  index_t size() const;
  bool empty() const;
  /// The common part of two boxes (possibly empty). Both must have the same ndim.
  box intersect(const box& other) const;
  /// True when `other` lies within this box.
  bool contains(const box& other) const;
  /// This box moved by -origin (coordinates relative to `origin`).
  box relative_to(std::span<const index_t> origin) const;

  friend bool operator==(const box&, const box&) = default;
};

/// `[0:3, 4:8]`, for messages.
std::string to_string(const box& b);

/// Throws shape_error unless `b` has `shape.size()` dimensions and lies within `shape`.
void check_box_within(const box& b, std::span<const index_t> shape);

}  // namespace chunkarr
