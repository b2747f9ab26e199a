// Printing element values: JSON (exact, shortest round-trip) and NumPy-like text.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "chunkarr/core/dtype.hpp"
#include "chunkarr/core/index.hpp"

namespace chunkarr::cli {

/// Appends `count` elements (native order, kind `kind`) as JSON values separated by ", ".
/// Floats in shortest round-trip form ("NaN", "Infinity", "-Infinity" as strings).
void append_json_values(std::string& out, const std::byte* data, index_t count, scalar_kind kind,
                        bool first);

/// NumPy's `str(array)` for the values in `data` (C order, shape `shape`). When `elided[d]`,
/// axis d was cut to its first and last `edge` items and "..." stands between them.
std::string numpy_str(const std::byte* data, const shape_t& shape, scalar_kind kind,
                      const std::vector<bool>& elided, index_t edge);

}  // namespace chunkarr::cli
