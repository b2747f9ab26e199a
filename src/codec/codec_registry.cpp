#include <limits>
#include <nlohmann/json.hpp>

#include "chunkarr/codec/codec.hpp"
#include "chunkarr/core/error.hpp"
#include "codec/codecs.hpp"

namespace chunkarr {
namespace detail {
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

// "a, b, c <last_word> d", as the messages list choices.
std::string listing(const std::vector<std::string>& items, const char* last_word) {
  std::string s;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) s += i + 1 == items.size() ? std::string(" ") + last_word + " " : ", ";
    s += items[i];
  }
  return s;
}

std::shared_ptr<const codec> no_compression(std::string_view spec,
                                            std::span<const std::string> fields) {
  spec_field_limit(spec, fields, 1);
  return nullptr;
}

}  // namespace

const codec_registry& codec_registry::instance() {
  // The order of the calls is the order the unknown-id messages list the codecs in.
  static const codec_registry registry = [] {
    codec_registry r;
    r.add_spec("none", "none", &no_compression);
    r.add_spec("raw", "", &no_compression);
    register_blosc(r);
    register_zstd(r);
    register_deflate(r);
    return r;
  }();
  return registry;
}

void codec_registry::add_spec(std::string id, std::string usage, spec_parser parse) {
  specs_.push_back({std::move(id), std::move(usage), parse});
}

void codec_registry::add_zarr(std::string id, zarr_parser parse) {
  zarr_.push_back({std::move(id), parse});
}

spec_parser codec_registry::find_spec(std::string_view id) const {
  for (const spec_entry& e : specs_) {
    if (e.id == id) return e.parse;
  }
  return nullptr;
}

zarr_parser codec_registry::find_zarr(std::string_view id) const {
  for (const zarr_entry& e : zarr_) {
    if (e.id == id) return e.parse;
  }
  return nullptr;
}

std::string codec_registry::spec_usage() const {
  std::vector<std::string> usages;
  for (const spec_entry& e : specs_) {
    if (!e.usage.empty()) usages.push_back(e.usage);
  }
  return listing(usages, "or");
}

std::string codec_registry::zarr_ids() const {
  std::vector<std::string> ids;
  for (const zarr_entry& e : zarr_) ids.push_back(e.id);
  return listing(ids, "and");
}

int spec_integer(std::string_view spec, const std::string& text, const char* field, int lo,
                 int hi) {
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

void spec_field_limit(std::string_view spec, std::span<const std::string> fields,
                      std::size_t allowed) {
  if (fields.size() > allowed) throw_error<codec_error>("codec '", spec, "' has too many fields");
}

int zarr_integer(const nlohmann::json& config, const char* field, int fallback) {
  if (!config.contains(field)) return fallback;
  const nlohmann::json& v = config[field];
  if (!v.is_number_integer()) {
    throw_error<codec_error>("codec config ", config.dump(), ": '", field, "' must be an integer");
  }
  // Compared as 64 bits first: 2^40 must be refused, not truncated to 0.
  const bool fits = v.is_number_unsigned()
                        ? v.get<std::uint64_t>() <= std::numeric_limits<int>::max()
                        : v.get<std::int64_t>() >= std::numeric_limits<int>::min() &&
                              v.get<std::int64_t>() <= std::numeric_limits<int>::max();
  if (!fits) {
    throw_error<codec_error>("codec config ", config.dump(), ": '", field, "' is out of range");
  }
  return v.get<int>();
}

}  // namespace detail

std::shared_ptr<const codec> make_codec(std::string_view spec) {
  const std::vector<std::string> fields = detail::split(spec, ':');
  const auto& registry = detail::codec_registry::instance();
  if (const detail::spec_parser parse = registry.find_spec(fields[0])) return parse(spec, fields);
  throw_error<codec_error>("unknown codec '", spec, "': expected ", registry.spec_usage());
}

std::shared_ptr<const codec> codec_from_zarr(const nlohmann::json& config) {
  if (!config.is_object() || !config.contains("id") || !config["id"].is_string()) {
    throw_error<codec_error>("codec config ", config.dump(), " has no string 'id'");
  }
  const std::string id = config["id"].get<std::string>();
  const auto& registry = detail::codec_registry::instance();
  if (const detail::zarr_parser parse = registry.find_zarr(id)) return parse(config);
  throw_error<codec_error>("unsupported codec '", id, "' (chunkarr reads ", registry.zarr_ids(),
                           ")");
}

}  // namespace chunkarr
