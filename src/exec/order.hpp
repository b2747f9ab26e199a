// Order statistics (internal; src/exec/order.cpp): NumPy's median and quantile formulas,
// over rows of values held whole (the blocks that median/quantile in src/expr/order.cpp hand
// over), or by radix selection over passes for output elements whose values are too many to
// hold (a select node's stage).
#pragma once

#include <memory>
#include <vector>

#include "chunkarr/core/dtype.hpp"
#include "chunkarr/core/index.hpp"
#include "chunkarr/core/slice.hpp"
#include "expr/node.hpp"

namespace chunkarr::detail {

/// The output dtype NumPy gives, or type_error naming `op` when it has none.
scalar_kind quantile_output(scalar_kind input, bool median, quantile_method method, const char* op);

/// Each of `rows` rows of `n` values (C order, the input's type) reduced to its statistics:
/// `out` holds them q-major (out[k * rows + r] for q[k]; one per row for a median).
void quantile_rows(const quantile_spec& spec, const std::byte* values, index_t rows, index_t n,
                   std::byte* out);

/// Radix selection for a select node: a few passes over its input, each task counting the
/// next digits of the order-preserving bit patterns of its chunk's values per output element
/// (or collecting the few candidates left once a digit's bin holds few enough), until the
/// value at every rank the statistics need is known. Counts are integers, so partials merge
/// in any order: results do not depend on threads, budget or chunking.
///
/// A pass: `partial` for each input box (any thread), `merge` each (one at a time), then
/// `next_pass`; `done` when every rank is resolved; then `finish`.
class selector {
 public:
  /// How a selection runs: `digits` bits counted per pass (a histogram of 2^digits counts per
  /// open rank), and at most `collect` candidate keys gathered at once.
  struct params {
    int digits = 11;
    index_t collect = index_t{4} << 20;
  };
  /// The largest digits and collection that fit `budget` bytes held across the passes.
  static params params_for(const node& select, index_t budget);

  selector(const node& select, params p);
  ~selector();
  selector(const selector&) = delete;
  selector& operator=(const selector&) = delete;

  struct partial_t;
  bool done() const;
  int pass() const;
  std::shared_ptr<partial_t> partial(const std::byte* values, const box& input_box) const;
  void merge(const partial_t& p);
  void next_pass();
  /// The statistics (the node's dtype, q-major) into `out`.
  void finish(std::byte* out) const;

  /// What a task's partial holds at most for an input box, and what the selector itself
  /// holds across a pass (both bytes; for the planner).
  static index_t task_bytes(const node& select, params p, const box& input_box);
  static index_t held_bytes(const node& select, params p);

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace chunkarr::detail
