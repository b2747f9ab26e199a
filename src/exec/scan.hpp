// Scans (internal): running operations along one axis with a state carried across chunks.
//
// A scan runs as a stage of strip tasks (plan.hpp): each task takes the chunks that share a
// position on the other axes and walks them in order along the scanned axis, so the state a
// chunk ends with is the state the next one starts from — exact, with no overlap and no
// approximation. A lane is one position on the other axes; lanes are independent, and the
// kernels run eight of them side by side (vector registers across lanes, never across the
// dependent samples of one lane).
#pragma once

#include "expr/node.hpp"

namespace chunkarr::detail {

class scanner {
 public:
  explicit scanner(const node& scan) : n_(scan) {}

  /// Bytes of one lane's state.
  std::size_t state_bytes() const;
  /// Scans one step of the strip: `in` holds the input's values over a box of shape
  /// (outer, length, inner) in C order (the scanned axis in the middle), in the input's
  /// dtype; `out` receives the scan's values there, in its dtype. `state` holds
  /// outer × inner lanes, laid out as the scanner chooses; `first` marks the strip's first
  /// step, where the states start.
  void step(std::byte* state, index_t outer, index_t length, index_t inner, const std::byte* in,
            std::byte* out, bool first) const;
  /// filtfilt's two halves over values already in float64 (in place): the forward filter
  /// (`first`: its states start here from zi · the first sample) and the backward one
  /// (`first`: from zi · the last sample).
  void forward(std::byte* state, index_t outer, index_t length, index_t inner, double* values,
               bool first) const;
  void backward(std::byte* state, index_t outer, index_t length, index_t inner, double* values,
                bool first) const;
  /// The input's values over `in` as float64 into `out`.
  void to_double(const std::byte* in, index_t count, double* out) const;

 private:
  const node& n_;
};

/// The input box a scan's step over `step` (a box of the scan's output) reads: the same box,
/// but for filtfilt: shifted by the edge, and at the first and last steps along the axis
/// widened to the input's ends (the padding).
box scan_input_box(const node& scan, const box& step);

}  // namespace chunkarr::detail
