// Typed inner loops (internal).
//
// A kernel applies one operation to `n` elements. Inputs are `operand_ref`s whose stride is
// 1 (contiguous) or 0 (one value broadcast); outputs are contiguous. Each loop is specialised
// on the strides so the compiler vectorises the contiguous case. Lookups happen once, when a
// block program is compiled, never per element.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

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

// NumPy's unsafe cast, as it behaves on x86-64, without C++'s UB for out-of-range floats.
template <class To, class From>
To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if constexpr (std::is_same_v<To, std::uint64_t>) {
      if (v >= From(9223372036854775808.0) && v < From(18446744073709551616.0)) {
        return static_cast<To>(v);
      }
    }
    if (!(v >= From(-9223372036854775808.0) && v < From(9223372036854775808.0))) {
      return static_cast<To>(std::numeric_limits<std::int64_t>::min());
    }
    return static_cast<To>(static_cast<std::int64_t>(v));
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace chunkarr::detail
