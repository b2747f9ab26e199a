// Reductions (internal): partial states per task, combined in a fixed order.
//
// A reduction runs as a stage of tasks, one per chunk of its input. Each task turns its
// block of values into partial states — one per output element its block covers (sum and
// count, count/mean/M2, value and index, …) — and the executor folds partials into the
// output's states in chunk order, so results are bit-identical for any thread count. sum
// (of floats), mean, var and std accumulate exactly (exec/exact_sum.hpp), so theirs are the
// same for any chunking too.
#pragma once

#include <concepts>
#include <memory>
#include <type_traits>

#include "expr/node.hpp"

namespace chunkarr::detail {

/// The partial-state contract every reduction (sum, var, argmax, …) is written to.
///
/// A reduction never sees all its values at once: it sees one block per task, on any thread,
/// in any order, so each operation is a `state` and five steps. `init` makes the identity
/// state. `add` (one value; `add_row` for a row of `n`, the inner loop) folds a block's values
/// into states, `passes` times over the block with `between` on every state in between
/// (variance: the first pass finds the block's mean, the second its squared deviations).
/// `combine(a, b)` folds `b`, whose values come later in C order, into `a`; `finish` turns a
/// final state into an output value of any kind `Out` (`ddof` for var/std, and the number of
/// values reduced into each output element). `combine` must be associative in what it means
/// — partials fold per block, then per chunk, then across chunks, in any grouping — but
/// floating-point addition is not associative bit for bit, so the engine never regroups or
/// reorders: it combines partials in one fixed order (chunk order along the reduced axes)
/// whatever the thread count, memory budget or run, which is what makes results
/// bit-identical. Knowing that `b` comes later is what lets argmin keep the first index. A
/// state is trivially copyable and exactly `sizeof(state)` bytes (`reducer::state_bytes`):
/// the engine keeps states as raw bytes, moves them between tasks and spills them to a
/// temporary Zarr array when they do not fit in memory.
template <class Op, class T>
concept partial_reduction = std::is_trivially_copyable_v<typename Op::state> &&
    requires(const Op op, typename Op::state& into, const typename Op::state& from, T value,
             const T* row, index_t n, int pass) {
  { Op::passes } -> std::convertible_to<int>;
  { op.init(into) } -> std::same_as<void>;
  { op.add(into, value, n, pass) } -> std::same_as<void>;
  { op.add_row(into, row, n, n, n, pass) } -> std::same_as<void>;
  { op.between(into) } -> std::same_as<void>;
  { op.combine(into, from) } -> std::same_as<void>;
  { op.template finish<double>(from, pass, n) } -> std::same_as<double>;
  { op.template finish<bool>(from, pass, n) } -> std::same_as<bool>;
};

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
  /// C order, of the input's dtype), in `storage` (a spare buffer to reuse, if any).
  bytes partial(const std::byte* values, const box& input_box, bytes storage = {}) const;
  /// into[i] = into[i] (+) from[i]: `from` covers later indices than `into`.
  void combine(std::byte* into, const std::byte* from, index_t count) const;
  /// Output values (the node's dtype) from final states.
  void finish(const std::byte* states, index_t count, std::byte* out) const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace chunkarr::detail
