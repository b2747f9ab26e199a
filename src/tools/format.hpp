// Printing element values: JSON (exact, shortest round-trip) and NumPy-like text.
#pragma once

#include <cstddef>
#include <functional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "chunkarr/core/dtype.hpp"
#include "chunkarr/core/index.hpp"
#include "chunkarr/core/slice.hpp"

namespace chunkarr::cli {

/// Appends `count` elements (native order, kind `kind`) as JSON values separated by ", ".
/// Floats in shortest round-trip form ("NaN", "Infinity", "-Infinity" as strings).
void append_json_values(std::string& out, const std::byte* data, index_t count, scalar_kind kind,
                        bool first);

/// NumPy's `str(array)` for the values in `data` (C order, shape `shape`). When `elided[d]`,
/// axis d was cut to its first and last `edge` items and "..." stands between them.
std::string numpy_str(const std::byte* data, const shape_t& shape, scalar_kind kind,
                      const std::vector<bool>& elided, index_t edge);

/// Reads a box of an array's values (C order, native) into the buffer given.
using region_reader = std::function<void(const box&, std::span<std::byte>)>;

/// `{"shape": [...], "dtype": "<f8", "data": [...]}` on one line, reading `rows` rows of
/// axis 0 at a time (fewer when a slab would pass 64 MiB) and printing in small batches.
void print_json(std::ostream& os, const region_reader& read, const shape_t& shape, const dtype& t,
                index_t rows);

/// NumPy's print of the values, summarised beyond 1000 elements (only the corners are read).
void print_text(std::ostream& os, const region_reader& read, const shape_t& shape, const dtype& t);

}  // namespace chunkarr::cli
