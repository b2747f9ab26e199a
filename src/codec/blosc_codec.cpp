// The one file that includes Blosc's header.
#include <blosc.h>

#include <nlohmann/json.hpp>

#include "chunkarr/core/error.hpp"
#include "codec/codecs.hpp"

namespace chunkarr::detail {
namespace {

struct blosc_options {
  std::string cname = "lz4";  // lz4, lz4hc, zstd, zlib, blosclz
  int clevel = 5;             // 0-9
  int shuffle = 1;            // 0 none, 1 byte, 2 bit, -1 auto (bit for 1-byte items)
  int blocksize = 0;          // bytes; 0 lets Blosc choose
};

const char* shuffle_name(int shuffle) {
  switch (shuffle) {
    case 0:
      return "noshuffle";
    case 1:
      return "shuffle";
    case 2:
      return "bitshuffle";
    default:
      return "autoshuffle";
  }
}

class blosc_codec final : public codec {
 public:
  explicit blosc_codec(blosc_options o) : o_(std::move(o)) {
    static constexpr const char* cnames[] = {"lz4", "lz4hc", "zstd", "zlib", "blosclz"};
    if (std::find(std::begin(cnames), std::end(cnames), o_.cname) == std::end(cnames)) {
      throw_error<codec_error>("unknown Blosc compressor '", o_.cname,
                               "' (expected lz4, lz4hc, zstd, zlib or blosclz)");
    }
    if (blosc_compname_to_compcode(o_.cname.c_str()) < 0) {
      throw_error<codec_error>("this Blosc library was built without '", o_.cname, "'");
    }
    if (o_.clevel < 0 || o_.clevel > 9) {
      throw_error<codec_error>("Blosc level ", o_.clevel, " is outside 0-9");
    }
    if (o_.shuffle < -1 || o_.shuffle > 2) {
      throw_error<codec_error>("Blosc shuffle ", o_.shuffle, " is not one of -1, 0, 1, 2");
    }
    if (o_.blocksize < 0) throw_error<codec_error>("Blosc block size must not be negative");
  }

  bytes encode(std::span<const std::byte> data, std::size_t itemsize) const override {
    if (data.size() > static_cast<std::size_t>(BLOSC_MAX_BUFFERSIZE)) {
      throw_error<codec_error>("Blosc cannot compress a chunk of ", data.size(),
                               " bytes: its limit is ", BLOSC_MAX_BUFFERSIZE,
                               " bytes (2 GiB); use smaller chunks or another codec");
    }
    const std::size_t typesize = itemsize == 0 || itemsize > BLOSC_MAX_TYPESIZE ? 1 : itemsize;
    int shuffle = o_.shuffle;
    if (shuffle == -1) shuffle = typesize == 1 ? BLOSC_BITSHUFFLE : BLOSC_SHUFFLE;
    bytes out(data.size() + BLOSC_MAX_OVERHEAD);
    const int n =
        blosc_compress_ctx(o_.clevel, shuffle, typesize, data.size(), data.data(), out.data(),
                           out.size(), o_.cname.c_str(), static_cast<std::size_t>(o_.blocksize), 1);
    if (n <= 0) throw_error<codec_error>("Blosc compression failed (code ", n, ")");
    out.resize(static_cast<std::size_t>(n));
    return out;
  }

  std::optional<std::size_t> decoded_size(std::span<const std::byte> data) const override {
    std::size_t nbytes = 0;
    if (blosc_cbuffer_validate(data.data(), data.size(), &nbytes) < 0) {
      throw_error<codec_error>("corrupt Blosc frame (", data.size(), " bytes)");
    }
    return nbytes;
  }

  void decode(std::span<const std::byte> data, std::span<std::byte> out) const override {
    const std::size_t nbytes = *decoded_size(data);
    if (nbytes != out.size()) {
      throw_error<codec_error>("Blosc frame holds ", nbytes, " bytes, expected ", out.size());
    }
    if (nbytes == 0) return;
    const int n = blosc_decompress_ctx(data.data(), out.data(), out.size(), 1);
    if (n < 0 || static_cast<std::size_t>(n) != nbytes) {
      throw_error<codec_error>("corrupt Blosc frame: decompression failed (code ", n, ")");
    }
  }

  std::string spec() const override {
    return "blosc:" + o_.cname + ":" + std::to_string(o_.clevel) + ":" + shuffle_name(o_.shuffle) +
           ":" + std::to_string(o_.blocksize);
  }

  nlohmann::json to_zarr() const override {
    return {{"id", "blosc"},
            {"cname", o_.cname},
            {"clevel", o_.clevel},
            {"shuffle", o_.shuffle},
            {"blocksize", o_.blocksize}};
  }

 private:
  blosc_options o_;
};

// blosc[:CNAME[:CLEVEL[:SHUFFLE[:BLOCKSIZE]]]]
std::shared_ptr<const codec> blosc_from_spec(std::string_view spec,
                                             std::span<const std::string> fields) {
  spec_field_limit(spec, fields, 5);
  blosc_options o;
  if (fields.size() > 1) o.cname = fields[1];
  if (fields.size() > 2) o.clevel = spec_integer(spec, fields[2], "the Blosc level", 0, 9);
  if (fields.size() > 3) {
    const std::string& a = fields[3];
    if (a == "noshuffle")
      o.shuffle = 0;
    else if (a == "shuffle")
      o.shuffle = 1;
    else if (a == "bitshuffle")
      o.shuffle = 2;
    else
      throw_error<codec_error>("codec '", spec, "': shuffle must be noshuffle, shuffle or ",
                               "bitshuffle, not '", a, "'");
  }
  if (fields.size() > 4) {
    o.blocksize = spec_integer(spec, fields[4], "the Blosc block size", 0, 1 << 30);
  }
  return std::make_shared<blosc_codec>(o);
}

std::shared_ptr<const codec> blosc_from_zarr(const nlohmann::json& config) {
  blosc_options o;
  if (config.contains("cname")) {
    if (!config["cname"].is_string()) {
      throw_error<codec_error>("codec config ", config.dump(), ": 'cname' must be a string");
    }
    o.cname = config["cname"].get<std::string>();
  }
  o.clevel = zarr_integer(config, "clevel", 5);
  o.shuffle = zarr_integer(config, "shuffle", 1);
  o.blocksize = zarr_integer(config, "blocksize", 0);
  return std::make_shared<blosc_codec>(o);
}

}  // namespace

void register_blosc(codec_registry& registry) {
  registry.add_spec("blosc", "blosc[:cname:clevel:shuffle]", &blosc_from_spec);
  registry.add_zarr("blosc", &blosc_from_zarr);
}

}  // namespace chunkarr::detail
