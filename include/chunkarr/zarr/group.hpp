// Zarr v2 groups and attributes.
//
// A group is a prefix with a `.zgroup` file; its children are the arrays and groups directly
// under it. These functions create groups, tell what lives at a path, list a group's
// children and read or write `.zattrs`. They are thin: all state is in the store.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "chunkarr/store/location.hpp"
#include "chunkarr/store/store.hpp"

namespace chunkarr {

enum class node_kind { none, array, group };

/// What lives at `path` in `s`: an array (`.zarray`), a group (`.zgroup`) or nothing.
node_kind node_at(const kvstore& s, std::string_view path);

/// Writes `path/.zgroup` (and the `.zgroup` of every missing parent group).
void create_group(kvstore& s, std::string_view path);

/// Before a new array or group is written at `where`: when the nearest existing parent is a
/// Zarr group, every missing parent between them becomes a group too, so zarr-python finds the
/// new node (`exp.zarr/new/lfp` with exp.zarr a group). Missing directories are created.
/// (Inside a kvstore a new node's parents always become groups, as in zarr-python.)
void create_parent_groups(const location& where);

struct group_child {
  std::string name;
  node_kind kind;
};

/// The arrays and groups directly under the group at `path`, sorted by name. Throws
/// not_found_error when `path` is not a group.
std::vector<group_child> group_children(const kvstore& s, std::string_view path);

/// The `.zattrs` object at `path` ({} when absent); format_error when it is not an object.
nlohmann::json read_attributes(const kvstore& s, std::string_view path);
/// Replaces `path/.zattrs`; value_error unless `attributes` is an object.
void write_attributes(kvstore& s, std::string_view path, const nlohmann::json& attributes);

/// Parses JSON text from a store value; format_error naming `where` when malformed.
/// format_error too for JSON nested more than 512 levels deep.
nlohmann::json parse_json(std::span<const std::byte> text, std::string_view where);
nlohmann::json parse_json(std::string_view text, std::string_view where);

}  // namespace chunkarr
