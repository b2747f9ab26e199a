// The codec registry (internal): how an id becomes a codec.
//
// A codec is named in two spellings — a user spec (`blosc:lz4:5:shuffle`, split at ':') and a
// numcodecs JSON config (`{"id": "blosc", ...}`, as Zarr v2 stores it) — and each codec file
// teaches the registry both of its spellings from its own file, through a `register_*`
// function declared here (as TensorStore's `RegisterCompressor` and numcodecs'
// `register_codec`). `make_codec` and `codec_from_zarr` only look ids up.
//
// The registry is built once, on first use, by a function-local static that calls every
// `register_*` below: not by global constructors, whose order across files is unspecified and
// which a static library drops when nothing references their object file. Adding a codec is
// its file plus one line in `codec_registry::instance`. After construction the registry is
// read-only, so lookups are safe from any thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "chunkarr/codec/codec.hpp"

namespace chunkarr::detail {

/// Builds a codec from a user spec already split at ':' (`fields[0]` is the id; `spec` is the
/// whole text, for messages); nullptr means no compression. Throws codec_error.
using spec_parser = std::shared_ptr<const codec> (*)(std::string_view spec,
                                                     std::span<const std::string> fields);
/// Builds a codec from a numcodecs config whose "id" is the registered one. Throws codec_error.
using zarr_parser = std::shared_ptr<const codec> (*)(const nlohmann::json& config);

class codec_registry {
 public:
  /// The registry with every codec chunkarr has (built on first call; thread-safe).
  static const codec_registry& instance();

  /// Registers a spec id; `usage` (`zstd[:level]`) goes in the message for an unknown id, in
  /// registration order, and an empty usage keeps an alias (`raw`) out of it.
  void add_spec(std::string id, std::string usage, spec_parser parse);
  /// Registers a numcodecs id; the message for an unknown id lists them in registration order.
  void add_zarr(std::string id, zarr_parser parse);

  /// The parser for `id`, or nullptr.
  spec_parser find_spec(std::string_view id) const;
  zarr_parser find_zarr(std::string_view id) const;
  /// `none, blosc[:cname:clevel:shuffle], … or zlib[:level]`.
  std::string spec_usage() const;
  /// `blosc, zstd, zlib and gzip`.
  std::string zarr_ids() const;

 private:
  codec_registry() = default;

  struct spec_entry {
    std::string id, usage;
    spec_parser parse;
  };
  struct zarr_entry {
    std::string id;
    zarr_parser parse;
  };
  std::vector<spec_entry> specs_;
  std::vector<zarr_entry> zarr_;
};

// Each defined in its codec's file (blosc_codec.cpp, zstd_codec.cpp, deflate_codec.cpp).
void register_blosc(codec_registry& registry);
void register_zstd(codec_registry& registry);
/// numcodecs' "zlib" (zlib streams) and "gzip" (gzip members).
void register_deflate(codec_registry& registry);

// Field parsers the codecs share, so every codec words its errors the same way.

/// `text` as an integer in [lo, hi]; codec_error naming `spec` and `field` otherwise.
int spec_integer(std::string_view spec, const std::string& text, const char* field, int lo, int hi);
/// codec_error when `fields` has more than `allowed` entries.
void spec_field_limit(std::string_view spec, std::span<const std::string> fields,
                      std::size_t allowed);
/// config[field] as an integer, `fallback` when absent; codec_error when not an integer.
int zarr_integer(const nlohmann::json& config, const char* field, int fallback);

}  // namespace chunkarr::detail
