// Zarr v2 array metadata: the `.zarray` document.
//
// `array_metadata` holds exactly what the Zarr v2 spec puts in `.zarray` — shape, chunks,
// dtype, compressor, fill value, memory order, filters, dimension separator — parsed with the
// same rules zarr-python follows and printed back as zarr-python writes it. Anything malformed
// or unsupported is a `format_error` (or `type_error`/`codec_error`) naming the file and the
// field, so a user can fix the file or report it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "chunkarr/codec/codec.hpp"
#include "chunkarr/core/chunk_grid.hpp"
#include "chunkarr/core/dtype.hpp"
#include "chunkarr/core/index.hpp"

namespace chunkarr {

/// A fill value as the metadata spells it: a boolean, an integer, or a float (NaN and the
/// infinities included). `std::monostate` is JSON `null` (no fill value; reads as zeros).
using fill_value = std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double>;

enum class memory_order : std::uint8_t { c, f };

/// The largest chunk, in bytes, chunkarr reads or writes (Blosc's own limit is 2 GiB).
inline constexpr index_t max_chunk_bytes = index_t{1} << 31;

struct array_metadata {
  shape_t shape;
  shape_t chunks;
  chunkarr::dtype dtype;
  std::shared_ptr<const codec> compressor;  // nullptr: stored uncompressed
  fill_value fill = 0.0;
  memory_order order = memory_order::c;
  char dimension_separator = '.';  // '.' (keys `i.j`) or '/' (keys `i/j`)

  /// Parses `.zarray` text; `where` names the file in errors. Throws format_error,
  /// type_error or codec_error; shape_error for absurd shapes or chunks.
  static array_metadata parse(std::string_view text, std::string_view where);
  /// The `.zarray` document, formatted as zarr-python writes it.
  std::string to_json() const;
  /// Throws unless shape, chunks, dtype and fill value are consistent and within limits.
  void validate(std::string_view where) const;

  chunk_grid grid() const { return chunk_grid(shape, chunks); }
  /// The store key of a chunk relative to the array: `1.0.3`, or `1/0/3`; `0` for 0-d.
  std::string chunk_key(std::span<const index_t> index) const;
  /// The fill value as one element in native byte order (zeros for a null fill value).
  bytes fill_element() const;
  /// The fill value converted to the dtype's own kind (an int64 for int dtypes, …).
  fill_value typed_fill() const;
  /// Bytes in one decoded chunk.
  index_t chunk_bytes() const;
};

/// The fill value for `t` printed as `.zarray` holds it: `0`, `NaN`, `true`, `null`.
std::string fill_to_string(const fill_value& v);

}  // namespace chunkarr
