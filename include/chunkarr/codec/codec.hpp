// Codecs: how a chunk's bytes are compressed on disk.
//
// A `codec` turns a chunk's raw bytes into stored bytes and back. Users name one by a short
// spec — `blosc:lz4:5:shuffle`, `zstd:3`, `gzip:6`, `zlib:1`, `none` — and Zarr v2 metadata
// names it by a numcodecs JSON config (`{"id": "blosc", "cname": "lz4", ...}`); both forms
// parse to the same objects and print back. A `codec_chain` applies codecs in order (Zarr v2:
// filters, then the compressor; Zarr v3's codec list maps onto it too).
//
// Codecs are immutable and thread-safe. Decoding always knows the exact size it must produce,
// so a truncated, corrupt or wrong-sized chunk is a `codec_error`, never a short buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "chunkarr/store/store.hpp"

namespace chunkarr {

class codec {
 public:
  virtual ~codec() = default;

  /// Compresses `data`, whose elements are `itemsize` bytes wide (used for shuffling).
  /// Throws codec_error (for example when a buffer exceeds Blosc's 2 GiB limit).
  virtual bytes encode(std::span<const std::byte> data, std::size_t itemsize) const = 0;
  /// Decompresses `data` into exactly `out.size()` bytes; codec_error when the data is
  /// corrupt, truncated, or decodes to another size.
  virtual void decode(std::span<const std::byte> data, std::span<std::byte> out) const = 0;
  /// The decoded size recorded in `data`'s own frame, or nullopt when the format keeps none.
  virtual std::optional<std::size_t> decoded_size(std::span<const std::byte> data) const = 0;
  /// The user spelling: `blosc:lz4:5:shuffle:0`, `zstd:3`, …
  virtual std::string spec() const = 0;
  /// The numcodecs config that Zarr v2 stores as `compressor` (or an entry of `filters`).
  virtual nlohmann::json to_zarr() const = 0;
};

/// Parses a user spec. Throws codec_error naming the spec and what is wrong with it.
///   none
///   blosc[:CNAME[:CLEVEL[:SHUFFLE[:BLOCKSIZE]]]]  CNAME lz4|lz4hc|zstd|zlib|blosclz,
///       CLEVEL 0-9, SHUFFLE noshuffle|shuffle|bitshuffle; defaults lz4:5:shuffle:0
///   zstd[:LEVEL] (1-22, default 1)   gzip[:LEVEL]   zlib[:LEVEL] (0-9, default 1)
/// `none` gives nullptr: no compression.
std::shared_ptr<const codec> make_codec(std::string_view spec);

/// Builds a codec from a numcodecs config; codec_error for an unknown id or bad field.
std::shared_ptr<const codec> codec_from_zarr(const nlohmann::json& config);

/// Codecs applied in order on encode and in reverse on decode. Empty: bytes pass unchanged.
class codec_chain {
 public:
  codec_chain() = default;
  explicit codec_chain(std::vector<std::shared_ptr<const codec>> stages);

  const std::vector<std::shared_ptr<const codec>>& stages() const { return stages_; }
  bool empty() const { return stages_.empty(); }

  bytes encode(std::span<const std::byte> data, std::size_t itemsize) const;
  /// Decodes into exactly out.size() bytes (see codec::decode).
  void decode(std::span<const std::byte> data, std::span<std::byte> out) const;
  /// `none`, or the stage specs joined by '|'.
  std::string spec() const;

 private:
  std::vector<std::shared_ptr<const codec>> stages_;
};

/// The CRC-32 of `data` (zlib's; Python's zlib.crc32 gives the same).
std::uint32_t crc32(std::span<const std::byte> data);

}  // namespace chunkarr
