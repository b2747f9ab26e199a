// Evaluating a node over a box (internal): the body of every task.
//
// `evaluate_into` produces the values of any node except an unmaterialised reduction over
// any box of its output, reading only the source chunks that box touches. Elementwise
// subtrees run as one fused block program; slices and transposes gather from their input's
// values over the bounding box. `estimate_bytes` bounds what an evaluation holds at once,
// which is what the planner checks against the memory budget.
#pragma once

#include <span>

#include "expr/node.hpp"

namespace chunkarr::detail {

/// Writes the values of `n` over `region` (C order, native) into `out`.
void evaluate_into(const node& n, const box& region, std::span<std::byte> out);

/// An upper bound on the bytes evaluate_into(n, region, …) holds at once, output included.
index_t estimate_bytes(const node& n, const box& region);

/// The box of input `in` that an elementwise node reads for output `region` (broadcasting).
box broadcast_box(const node& in, const shape_t& out_shape, const box& region);

}  // namespace chunkarr::detail
