// Reductions (internal): partial states per task, combined in a fixed order.
//
// A reduction runs as a stage of tasks, one per chunk of its input. Each task turns its
// block of values into partial states — one per output element its block covers (sum and
// count, count/mean/M2, value and index, …) — and the executor folds partials into the
// output's states in chunk order, so results are bit-identical for any thread count.
// Floating sums accumulate in double.
#pragma once

#include <memory>

#include "expr/node.hpp"

namespace chunkarr::detail {

class reducer {
 public:
  /// For a node of kind reduction.
  explicit reducer(const node& reduction);
  ~reducer();
  reducer(const reducer&) = delete;
  reducer& operator=(const reducer&) = delete;

  /// Bytes of one state.
  std::size_t state_bytes() const;
  /// Fresh states (the identity of the reduction).
  void init(std::byte* states, index_t count) const;
  /// States for the kept axes of `input_box`, accumulated from `values` (that box's values,
  /// C order, of the input's dtype).
  bytes partial(const std::byte* values, const box& input_box) const;
  /// into[i] = into[i] (+) from[i]: `from` covers later indices than `into`.
  void combine(std::byte* into, const std::byte* from, index_t count) const;
  /// Output values (the node's dtype) from final states.
  void finish(const std::byte* states, index_t count, std::byte* out) const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace chunkarr::detail
