// Typed inner loops (internal).
//
// A kernel applies one operation to `n` elements. Inputs are `operand_ref`s whose stride is
// 1 (contiguous) or 0 (one value broadcast); outputs are contiguous. Each loop is specialised
// on the strides so the compiler vectorises the contiguous case. Lookups happen once, when a
// block program is compiled, never per element.
#pragma once

#include <cstddef>

#include "chunkarr/core/dtype.hpp"
#include "chunkarr/core/index.hpp"
#include "chunkarr/expr/array.hpp"

namespace chunkarr::detail {

struct operand_ref {
  const std::byte* data = nullptr;
  index_t stride = 1;  // in elements: 1 or 0
};

using kernel_fn = void (*)(index_t n, const operand_ref* in, std::byte* out);

/// out = op(in[0], in[1]), both of kind `k`; out of kind bool for comparisons, else `k`.
kernel_fn binary_kernel(binary_op op, scalar_kind k);
/// out = op(in[0]) of kind `k`; out bool for isnan/isinf/isfinite, else `k`.
kernel_fn unary_kernel(unary_op op, scalar_kind k);
/// out = in[0] converted from `from` to `to` (NumPy's unsafe cast).
kernel_fn cast_kernel(scalar_kind from, scalar_kind to);
/// out = in[0] (bool) ? in[1] : in[2], of kind `k`.
kernel_fn where_kernel(scalar_kind k);

}  // namespace chunkarr::detail
