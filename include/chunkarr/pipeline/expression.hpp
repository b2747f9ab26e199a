// The expression language of `chunkarr eval` and `chunkarr graph`: NumPy/Python syntax over
// named arrays, evaluated to a lazy chunkarr::array.
//
//   operators   + - * / // % ** (unary - + ~), comparisons (chained as in Python), & | ^
//   calls       mean(a, axis=0), where(a > 0, a, 0), clip(a, 0, 1), np.sqrt(a), …
//   methods     a.mean(axis=(0, 2), keepdims=True), a.astype('f4'), a.T, a.transpose(1, 0)
//   subscripts  a[0, 10:20, ::-1, ..., None]
//   literals    1, 2.5, 1e-3, nan, inf, True, False, 'f4', tuples
//
// A syntax error is reported with the column it was found at; a semantic error (unknown
// name, shapes that do not broadcast, a bad axis) with the names, shapes and dtypes involved.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "chunkarr/exec/compute.hpp"
#include "chunkarr/expr/array.hpp"

namespace chunkarr {

/// Parses and builds `text` over `inputs`. Throws value_error (syntax), or the engine's own
/// errors (shape_error, type_error, …) with the expression in the message.
/// What building computes (an index array, a mask and its counts, integer arithmetic in a
/// subscript) runs with `build`'s memory limit, threads and cancel flag.
array parse_expression(const std::string& text, const std::map<std::string, array>& inputs,
                       const compute_options& build = {});

/// `text` spelled one way: its tokens with one spacing, `np.`/`numpy.` prefixes dropped,
/// strings in single quotes. Two spellings of one expression give the same text (the text
/// that provenance records). Throws value_error for a syntax error in the tokens.
std::string canonical_expression(const std::string& text);

/// The names an expression reads (not attributes after a dot, keyword names or functions
/// called by name), each once, in order of first use: `a + mean(b, axis=0)` reads a and b.
std::vector<std::string> expression_names(const std::string& text);

/// Parses a dtype the way NumPy's np.dtype() does for numeric types: 'f4', 'float32', '<i8',
/// 'uint8', 'bool', '?'. Throws type_error.
dtype parse_dtype(const std::string& text);

}  // namespace chunkarr
