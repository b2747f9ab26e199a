#include <nlohmann/json.hpp>

#include "chunkarr/codec/codec.hpp"
#include "chunkarr/core/error.hpp"
#include "codec/codecs.hpp"

namespace chunkarr {
namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  std::size_t pos = 0;
  while (true) {
    const std::size_t next = s.find(sep, pos);
    parts.emplace_back(s.substr(pos, next - pos));
    if (next == std::string_view::npos) return parts;
    pos = next + 1;
  }
}

int parse_int(std::string_view spec, const std::string& text, const char* field, int lo, int hi) {
  int value = 0;
  std::size_t used = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < lo || value > hi) {
    throw_error<codec_error>("codec '", spec, "': ", field, " must be an integer from ", lo, " to ",
                             hi, ", not '", text, "'");
  }
  return value;
}

}  // namespace

std::shared_ptr<const codec> make_codec(std::string_view spec) {
  const std::vector<std::string> parts = split(spec, ':');
  const std::string& id = parts[0];
  auto arg = [&](std::size_t i) -> const std::string* {
    return i < parts.size() ? &parts[i] : nullptr;
  };
  auto too_many = [&](std::size_t allowed) {
    if (parts.size() > allowed) {
      throw_error<codec_error>("codec '", spec, "' has too many fields");
    }
  };
  if (id == "none" || id == "raw") {
    too_many(1);
    return nullptr;
  }
  if (id == "blosc") {
    too_many(5);
    detail::blosc_options o;
    if (auto* a = arg(1)) o.cname = *a;
    if (auto* a = arg(2)) o.clevel = parse_int(spec, *a, "the Blosc level", 0, 9);
    if (auto* a = arg(3)) {
      if (*a == "noshuffle")
        o.shuffle = 0;
      else if (*a == "shuffle")
        o.shuffle = 1;
      else if (*a == "bitshuffle")
        o.shuffle = 2;
      else
        throw_error<codec_error>("codec '", spec, "': shuffle must be noshuffle, shuffle or ",
                                 "bitshuffle, not '", *a, "'");
    }
    if (auto* a = arg(4)) o.blocksize = parse_int(spec, *a, "the Blosc block size", 0, 1 << 30);
    return detail::make_blosc(o);
  }
  if (id == "zstd") {
    too_many(2);
    return detail::make_zstd(arg(1) ? parse_int(spec, *arg(1), "the zstd level", -131072, 22) : 1);
  }
  if (id == "zlib" || id == "gzip") {
    too_many(2);
    const int level = arg(1) ? parse_int(spec, *arg(1), "the level", 0, 9) : 1;
    return detail::make_deflate(level, id == "gzip");
  }
  throw_error<codec_error>("unknown codec '", spec,
                           "': expected none, blosc[:cname:clevel:shuffle], zstd[:level], "
                           "gzip[:level] or zlib[:level]");
}

std::shared_ptr<const codec> codec_from_zarr(const nlohmann::json& config) {
  if (!config.is_object() || !config.contains("id") || !config["id"].is_string()) {
    throw_error<codec_error>("codec config ", config.dump(), " has no string 'id'");
  }
  const std::string id = config["id"].get<std::string>();
  auto integer = [&](const char* field, int fallback) {
    if (!config.contains(field)) return fallback;
    const nlohmann::json& v = config[field];
    if (!v.is_number_integer()) {
      throw_error<codec_error>("codec config ", config.dump(), ": '", field,
                               "' must be an integer");
    }
    return v.get<int>();
  };
  if (id == "blosc") {
    detail::blosc_options o;
    if (config.contains("cname")) {
      if (!config["cname"].is_string()) {
        throw_error<codec_error>("codec config ", config.dump(), ": 'cname' must be a string");
      }
      o.cname = config["cname"].get<std::string>();
    }
    o.clevel = integer("clevel", 5);
    o.shuffle = integer("shuffle", 1);
    o.blocksize = integer("blocksize", 0);
    return detail::make_blosc(o);
  }
  if (id == "zstd") return detail::make_zstd(integer("level", 1));
  if (id == "zlib") return detail::make_deflate(integer("level", 1), false);
  if (id == "gzip") return detail::make_deflate(integer("level", 1), true);
  throw_error<codec_error>("unsupported codec '", id,
                           "' (chunkarr reads blosc, zstd, zlib and gzip)");
}

codec_chain::codec_chain(std::vector<std::shared_ptr<const codec>> stages)
    : stages_(std::move(stages)) {
  std::erase(stages_, nullptr);
}

bytes codec_chain::encode(std::span<const std::byte> data, std::size_t itemsize) const {
  if (stages_.empty()) return bytes(data.begin(), data.end());
  bytes current = stages_.front()->encode(data, itemsize);
  for (std::size_t i = 1; i < stages_.size(); ++i) current = stages_[i]->encode(current, 1);
  return current;
}

void codec_chain::decode(std::span<const std::byte> data, std::span<std::byte> out) const {
  if (stages_.empty()) {
    if (data.size() != out.size()) {
      throw_error<codec_error>("uncompressed chunk has ", data.size(), " bytes, expected ",
                               out.size());
    }
    std::copy(data.begin(), data.end(), out.begin());
    return;
  }
  bytes current;
  std::span<const std::byte> input = data;
  for (std::size_t i = stages_.size(); i-- > 1;) {
    const auto size = stages_[i]->decoded_size(input);
    if (!size) {
      throw_error<codec_error>("codec '", stages_[i]->spec(),
                               "' keeps no decoded size, so it must come first in a chain");
    }
    bytes next(*size);
    stages_[i]->decode(input, next);
    current = std::move(next);
    input = current;
  }
  stages_.front()->decode(input, out);
}

std::string codec_chain::spec() const {
  if (stages_.empty()) return "none";
  std::string s;
  for (const auto& stage : stages_) s += (s.empty() ? "" : "|") + stage->spec();
  return s;
}

}  // namespace chunkarr
