#include "chunkarr/zarr/group.hpp"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "chunkarr/core/error.hpp"

namespace chunkarr {

namespace {

bool is_valid_key_segment(std::string_view name) {
  if (name.find('/') != std::string_view::npos) return false;
  try {
    check_key(name);
    return true;
  } catch (const value_error&) {
    return false;
  }
}

}  // namespace

node_kind node_at(const kvstore& s, std::string_view path) {
  check_key(path, true);
  if (s.exists(join_key(path, ".zarray"))) return node_kind::array;
  if (s.exists(join_key(path, ".zgroup"))) return node_kind::group;
  return node_kind::none;
}

namespace {

void put_zgroup(kvstore& s, std::string_view prefix) {
  static const std::string text = nlohmann::json{{"zarr_format", 2}}.dump(4);
  s.set(join_key(prefix, ".zgroup"), std::as_bytes(std::span(text.data(), text.size())));
}

}  // namespace

void create_group(kvstore& s, std::string_view path) {
  check_key(path, true);
  // The root first, then each parent, then `path` itself, as zarr-python does.
  std::vector<std::string_view> prefixes{std::string_view()};
  for (std::size_t pos = path.find('/'); pos != std::string_view::npos;
       pos = path.find('/', pos + 1)) {
    prefixes.push_back(path.substr(0, pos));
  }
  if (!path.empty()) prefixes.push_back(path);
  // The deepest existing group ends the search: a tree written top down checks one level
  // per new group, not every level above it (groups 1000 deep stay linear).
  std::size_t first_missing = 0;
  for (std::size_t k = prefixes.size(); k-- > 0;) {
    const node_kind kind = node_at(s, prefixes[k]);
    if (kind == node_kind::array) {
      throw_error<io_error>(join_key(s.describe(), prefixes[k]),
                            " is an array; cannot create a group in it");
    }
    if (kind == node_kind::group) {
      first_missing = k + 1;
      break;
    }
  }
  for (std::size_t k = first_missing; k < prefixes.size(); ++k) put_zgroup(s, prefixes[k]);
}

void create_parent_groups(const location& where) {
  if (where.is_local_directory()) {
    namespace fs = std::filesystem;
    const fs::path parent = fs::path(where.directory).lexically_normal().parent_path();
    if (parent.empty()) return;
    std::error_code ec;
    fs::path existing = parent;
    while (!existing.empty() && !fs::exists(existing, ec)) existing = existing.parent_path();
    fs::create_directories(parent, ec);
    if (ec) throw_error<io_error>("cannot create ", parent.string(), ": ", ec.message());
    if (existing.empty() || existing == parent) return;
    const auto above = make_directory_store(existing);
    if (node_at(*above, "") == node_kind::group) {
      create_group(*above, parent.lexically_relative(existing).generic_string());
    }
  }
  // Inside a store, creating a node creates its parents as groups (create_group,
  // zarr_array::create), as zarr-python does.
}

std::vector<group_child> group_children(const kvstore& s, std::string_view path) {
  if (node_at(s, path) != node_kind::group) {
    throw_error<not_found_error>(join_key(s.describe(), path), " is not a Zarr group");
  }
  std::vector<group_child> children;
  for (const std::string& name : s.list_dir(path)) {
    // `.zarray` and friends are files, never nodes; a name that is no valid key (`a\b`, which
    // zarr-python reads as `a/b`) cannot be a child either.
    if (!is_valid_key_segment(name)) continue;
    const node_kind kind = node_at(s, join_key(path, name));
    if (kind != node_kind::none) children.push_back({name, kind});
  }
  return children;
}

nlohmann::json parse_json(std::span<const std::byte> text, std::string_view where) {
  return parse_json(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()),
                    where);
}

nlohmann::json parse_json(std::string_view text, std::string_view where) {
  // Printing and comparing JSON recurse: a document nested deeper than any real metadata is
  // refused here (zarr-python's JSON module stops near 1000 levels).
  constexpr int max_json_depth = 512;
  const auto bounded = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > max_json_depth) {
      throw_error<format_error>(where, ": JSON nested more than ", max_json_depth, " levels deep");
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text, bounded);
  } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number like 1e400
    throw_error<format_error>(where, ": malformed JSON: ", e.what());
  }
}

nlohmann::json read_attributes(const kvstore& s, std::string_view path) {
  const std::string key = join_key(path, ".zattrs");
  const std::optional<bytes> text = s.get(key);
  if (!text) return nlohmann::json::object();
  nlohmann::json attributes = parse_json(*text, join_key(s.describe(), key));
  if (!attributes.is_object()) {
    throw_error<format_error>(join_key(s.describe(), key), ": attributes must be a JSON object");
  }
  return attributes;
}

void write_attributes(kvstore& s, std::string_view path, const nlohmann::json& attributes) {
  if (!attributes.is_object()) {
    throw_error<value_error>("attributes for ", join_key(s.describe(), path),
                             " must be a JSON object");
  }
  const std::string text = attributes.dump(4);
  s.set(join_key(path, ".zattrs"), std::as_bytes(std::span(text.data(), text.size())));
}

}  // namespace chunkarr
