// The one file that includes zstd's header.
#include <zstd.h>

#include <nlohmann/json.hpp>

#include "chunkarr/core/error.hpp"
#include "codec/codecs.hpp"

namespace chunkarr::detail {
namespace {

class zstd_codec final : public codec {
 public:
  explicit zstd_codec(int level) : level_(level) {
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
      throw_error<codec_error>("zstd level ", level, " is outside ", ZSTD_minCLevel(), " to ",
                               ZSTD_maxCLevel());
    }
  }

  bytes encode(std::span<const std::byte> data, std::size_t) const override {
    bytes out(ZSTD_compressBound(data.size()));
    const std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level_);
    if (ZSTD_isError(n)) {
      throw_error<codec_error>("zstd compression failed: ", ZSTD_getErrorName(n));
    }
    out.resize(n);
    return out;
  }

  std::optional<std::size_t> decoded_size(std::span<const std::byte> data) const override {
    const unsigned long long n = ZSTD_getFrameContentSize(data.data(), data.size());
    if (n == ZSTD_CONTENTSIZE_ERROR) {
      throw_error<codec_error>("corrupt zstd frame (", data.size(), " bytes)");
    }
    if (n == ZSTD_CONTENTSIZE_UNKNOWN) return std::nullopt;
    return static_cast<std::size_t>(n);
  }

  void decode(std::span<const std::byte> data, std::span<std::byte> out) const override {
    if (auto size = decoded_size(data); size && *size != out.size()) {
      throw_error<codec_error>("zstd frame holds ", *size, " bytes, expected ", out.size());
    }
    const std::size_t n = ZSTD_decompress(out.data(), out.size(), data.data(), data.size());
    if (ZSTD_isError(n)) {
      throw_error<codec_error>("corrupt zstd frame: ", ZSTD_getErrorName(n));
    }
    if (n != out.size()) {
      throw_error<codec_error>("zstd frame holds ", n, " bytes, expected ", out.size());
    }
  }

  std::string spec() const override { return "zstd:" + std::to_string(level_); }
  nlohmann::json to_zarr() const override { return {{"id", "zstd"}, {"level", level_}}; }

 private:
  int level_;
};

// zstd[:LEVEL]
std::shared_ptr<const codec> zstd_from_spec(std::string_view spec,
                                            std::span<const std::string> fields) {
  spec_field_limit(spec, fields, 2);
  const int level =
      fields.size() > 1 ? spec_integer(spec, fields[1], "the zstd level", -131072, 22) : 1;
  return std::make_shared<zstd_codec>(level);
}

std::shared_ptr<const codec> zstd_from_zarr(const nlohmann::json& config) {
  return std::make_shared<zstd_codec>(zarr_integer(config, "level", 1));
}

}  // namespace

void register_zstd(codec_registry& registry) {
  registry.add_spec("zstd", "zstd[:level]", &zstd_from_spec);
  registry.add_zarr("zstd", &zstd_from_zarr);
}

}  // namespace chunkarr::detail
