// The one file that includes zlib's header: numcodecs' "zlib" (zlib streams) and "gzip"
// (gzip members) codecs.
#include <zlib.h>

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "chunkarr/core/error.hpp"
#include "codec/codecs.hpp"

namespace chunkarr::detail {
namespace {

// zlib counts in uInt; feed it in pieces no larger than that.
constexpr std::size_t max_piece = std::numeric_limits<uInt>::max();

class deflate_codec final : public codec {
 public:
  deflate_codec(int level, bool gzip) : level_(level), gzip_(gzip) {
    if (level < 0 || level > 9)
      throw_error<codec_error>(name(), " level ", level, " is outside 0-9");
  }

  bytes encode(std::span<const std::byte> data, std::size_t) const override {
    z_stream z{};
    if (deflateInit2(&z, level_, Z_DEFLATED, gzip_ ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw_error<codec_error>(name(), " initialisation failed");
    }
    bytes out(deflateBound(&z, static_cast<uLong>(data.size())) + 64);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(data.data()));
    std::size_t in_left = data.size();
    std::size_t produced = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      if (produced == out.size()) out.resize(out.size() * 2);
      const std::size_t in_now = std::min(in_left, max_piece);
      z.avail_in = static_cast<uInt>(in_now);
      z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      z.avail_out = static_cast<uInt>(std::min(out.size() - produced, max_piece));
      const uInt out_before = z.avail_out;
      rc = deflate(&z, in_now == in_left ? Z_FINISH : Z_NO_FLUSH);
      in_left -= in_now - z.avail_in;
      produced += out_before - z.avail_out;
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        deflateEnd(&z);
        throw_error<codec_error>(name(), " compression failed (code ", rc, ")");
      }
    }
    deflateEnd(&z);
    out.resize(produced);
    return out;
  }

  std::optional<std::size_t> decoded_size(std::span<const std::byte>) const override {
    return std::nullopt;
  }

  void decode(std::span<const std::byte> data, std::span<std::byte> out) const override {
    z_stream z{};
    if (inflateInit2(&z, gzip_ ? 15 + 16 : 15) != Z_OK) {
      throw_error<codec_error>(name(), " initialisation failed");
    }
    z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(data.data()));
    std::size_t in_left = data.size();
    std::size_t produced = 0;
    int rc = Z_OK;
    std::byte overflow[1];
    while (rc != Z_STREAM_END) {
      const std::size_t in_now = std::min(in_left, max_piece);
      z.avail_in = static_cast<uInt>(in_now);
      // Once `out` is full, offer one spare byte: output beyond it means the size is wrong.
      const bool full = produced == out.size();
      z.next_out = reinterpret_cast<Bytef*>(full ? overflow : out.data() + produced);
      z.avail_out = full ? 1 : static_cast<uInt>(std::min(out.size() - produced, max_piece));
      const uInt out_before = z.avail_out;
      rc = inflate(&z, Z_NO_FLUSH);
      const std::size_t consumed = in_now - z.avail_in;
      const std::size_t made = out_before - z.avail_out;
      in_left -= consumed;
      if (full && made > 0) {
        inflateEnd(&z);
        throw_error<codec_error>(name(), " data holds more than the expected ", out.size(),
                                 " bytes");
      }
      produced += made;
      if (rc == Z_BUF_ERROR && in_left == 0 && made == 0) {
        inflateEnd(&z);
        throw_error<codec_error>("truncated ", name(), " data: ", produced, " of ", out.size(),
                                 " bytes decoded");
      }
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        inflateEnd(&z);
        throw_error<codec_error>("corrupt ", name(), " data: ", z.msg ? z.msg : "inflate failed");
      }
    }
    inflateEnd(&z);
    if (produced != out.size()) {
      throw_error<codec_error>(name(), " data holds ", produced, " bytes, expected ", out.size());
    }
  }

  std::string spec() const override { return std::string(name()) + ":" + std::to_string(level_); }
  nlohmann::json to_zarr() const override { return {{"id", name()}, {"level", level_}}; }

 private:
  const char* name() const { return gzip_ ? "gzip" : "zlib"; }
  int level_;
  bool gzip_;
};

// gzip[:LEVEL] and zlib[:LEVEL]
template <bool Gzip>
std::shared_ptr<const codec> deflate_from_spec(std::string_view spec,
                                               std::span<const std::string> fields) {
  spec_field_limit(spec, fields, 2);
  const int level = fields.size() > 1 ? spec_integer(spec, fields[1], "the level", 0, 9) : 1;
  return std::make_shared<deflate_codec>(level, Gzip);
}

template <bool Gzip>
std::shared_ptr<const codec> deflate_from_zarr(const nlohmann::json& config) {
  return std::make_shared<deflate_codec>(zarr_integer(config, "level", 1), Gzip);
}

}  // namespace

void register_deflate(codec_registry& registry) {
  // Each form keeps the order its unknown-id message has always listed them in.
  registry.add_spec("gzip", "gzip[:level]", &deflate_from_spec<true>);
  registry.add_spec("zlib", "zlib[:level]", &deflate_from_spec<false>);
  registry.add_zarr("zlib", &deflate_from_zarr<false>);
  registry.add_zarr("gzip", &deflate_from_zarr<true>);
}

}  // namespace chunkarr::detail

namespace chunkarr {

std::uint32_t crc32(std::span<const std::byte> data) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  std::size_t done = 0;
  while (done < data.size()) {  // uInt lengths
    const std::size_t n = std::min<std::size_t>(data.size() - done, 1u << 30);
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(data.data() + done), static_cast<uInt>(n));
    done += n;
  }
  return static_cast<std::uint32_t>(crc);
}

}  // namespace chunkarr
