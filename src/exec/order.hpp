// Order statistics over rows of values (internal; src/exec/order.cpp): NumPy's median and
// quantile formulas on each row, for the blocks that median/quantile (src/expr/order.cpp)
// hand it.
#pragma once

#include <vector>

#include "chunkarr/core/dtype.hpp"
#include "chunkarr/core/index.hpp"
#include "chunkarr/expr/order.hpp"

namespace chunkarr::detail {

struct quantile_spec {
  std::vector<double> q;  // each in [0, 1]
  quantile_method method = quantile_method::linear;
  bool median = false;    // numpy.median (q unused)
  bool skip_nan = false;  // the nan forms
  scalar_kind input = scalar_kind::float64, output = scalar_kind::float64;
};

/// The output dtype NumPy gives, or type_error naming `op` when it has none.
scalar_kind quantile_output(scalar_kind input, bool median, quantile_method method, const char* op);

/// Each of `rows` rows of `n` values (C order, the input's type) reduced to its statistics:
/// `out` holds them q-major (out[k * rows + r] for q[k]; one per row for a median).
void quantile_rows(const quantile_spec& spec, const std::byte* values, index_t rows, index_t n,
                   std::byte* out);

}  // namespace chunkarr::detail
