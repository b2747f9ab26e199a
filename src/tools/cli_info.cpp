// chunkarr info PATH [--json]: what an array or a group holds.
#include <iostream>

#include <nlohmann/json.hpp>

#include "tools/cli.hpp"

namespace chunkarr::cli {
namespace {

using json = nlohmann::json;

struct storage_summary {
  index_t chunks_stored = 0;
  index_t stored_bytes = 0;  // chunks and metadata
};

storage_summary summarise_storage(const zarr_array& a) {
  storage_summary s;
  const std::size_t skip = a.path().empty() ? 0 : a.path().size() + 1;
  for (const std::string& key : a.storage()->list(a.path())) {
    const auto size = a.storage()->size_of(key);
    s.stored_bytes += size ? static_cast<index_t>(*size) : 0;
    if (key.size() > skip && key[skip] != '.') ++s.chunks_stored;
  }
  return s;
}

std::string codec_spec(const array_metadata& m) {
  return m.compressor ? m.compressor->spec() : "none";
}

json array_json(const zarr_array& a) {
  const array_metadata& m = a.metadata();
  const storage_summary s = summarise_storage(a);
  const index_t nbytes = element_count(m.shape) * static_cast<index_t>(m.dtype.itemsize());
  json j;
  j["kind"] = "array";
  j["shape"] = m.shape;
  j["dtype"] = m.dtype.typestr();
  j["chunks"] = m.chunks;
  j["chunk_grid"] = a.grid().chunk_counts();
  j["chunk_count"] = a.grid().chunk_count();
  j["chunks_stored"] = s.chunks_stored;
  j["codec"] = codec_spec(m);
  j["compressor"] = m.compressor ? m.compressor->to_zarr() : json();
  j["order"] = m.order == memory_order::c ? "C" : "F";
  j["fill_value"] = json::parse(fill_to_string(m.typed_fill()));
  j["dimension_separator"] = std::string(1, m.dimension_separator);
  j["nbytes"] = nbytes;
  j["stored_bytes"] = s.stored_bytes;
  j["ratio"] = s.stored_bytes > 0 ? static_cast<double>(nbytes) / s.stored_bytes : 0.0;
  j["attributes"] = a.attributes();
  return j;
}

json group_json(const std::shared_ptr<kvstore>& st, const std::string& path) {
  json j;
  j["kind"] = "group";
  j["attributes"] = read_attributes(*st, path);
  j["children"] = json::array();
  for (const group_child& child : group_children(*st, path)) {
    const std::string child_path = join_key(path, child.name);
    json c = child.kind == node_kind::array ? array_json(zarr_array::open(st, child_path))
                                            : group_json(st, child_path);
    c["name"] = child.name;
    j["children"].push_back(std::move(c));
  }
  return j;
}

std::string shape_text(const json& extents) {
  return to_string(extents.get<shape_t>());
}

std::string array_line(const json& a) {
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.2f", a["ratio"].get<double>());
  return shape_text(a["shape"]) + " " + dtype::from_typestr(a["dtype"].get<std::string>()).name() +
         ", chunks " + shape_text(a["chunks"]) + ", " + a["codec"].get<std::string>() + ", " +
         human_bytes(a["nbytes"].get<double>()) + " -> " +
         human_bytes(a["stored_bytes"].get<double>()) + " (ratio " + ratio + ")";
}

void print_tree(const json& g, const std::string& indent) {
  const json& children = g["children"];
  for (std::size_t i = 0; i < children.size(); ++i) {
    const json& c = children[i];
    const bool last = i + 1 == children.size();
    std::cout << indent << (last ? "└── " : "├── ") << c["name"].get<std::string>();
    if (c["kind"] == "array") {
      std::cout << "  " << array_line(c) << "\n";
    } else {
      std::cout << "/\n";
      print_tree(c, indent + (last ? "    " : "│   "));
    }
  }
}

void print_array(const std::string& display, const json& a) {
  auto row = [](const char* name, const std::string& value) {
    std::printf("%-16s: %s\n", name, value.c_str());
  };
  const dtype t = dtype::from_typestr(a["dtype"].get<std::string>());
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.2f", a["ratio"].get<double>());
  row("path", display);
  row("type", "zarr array (v2)");
  row("shape", shape_text(a["shape"]));
  row("dtype", t.name() + " (" + t.typestr() + ")");
  row("chunks", shape_text(a["chunks"]));
  row("chunk grid", shape_text(a["chunk_grid"]) + ", " + a["chunk_count"].dump() + " chunks");
  row("chunks stored", a["chunks_stored"].dump() + " of " + a["chunk_count"].dump());
  row("codec", a["codec"].get<std::string>());
  row("order", a["order"].get<std::string>());
  row("fill value", a["fill_value"].dump());
  row("separator", a["dimension_separator"].get<std::string>());
  row("bytes", a["nbytes"].dump() + " (" + human_bytes(a["nbytes"].get<double>()) + ")");
  row("stored bytes",
      a["stored_bytes"].dump() + " (" + human_bytes(a["stored_bytes"].get<double>()) + ")");
  row("ratio", ratio);
  if (!a["attributes"].empty()) row("attributes", a["attributes"].dump());
}

}  // namespace

void add_info(CLI::App& app, std::function<void()>& run) {
  auto* cmd = app.add_subcommand(
      "info", "Describe a Zarr array (shape, dtype, chunks, codec, sizes) or a group's tree");
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("PATH", *path, "Zarr array or group directory (may be inside a group)")
      ->required();
  cmd->add_flag("--json", *as_json, "Print one JSON object instead of text");
  cmd->callback([&run, path, as_json] {
    run = [path, as_json] {
      const node n = open_node(*path);
      json j = n.kind == node_kind::array ? array_json(zarr_array::open(n.storage, n.path))
                                          : group_json(n.storage, n.path);
      j["path"] = *path;
      if (*as_json) {
        std::cout << j.dump(2) << "\n";
      } else if (n.kind == node_kind::array) {
        print_array(*path, j);
      } else {
        std::cout << *path << "/  (zarr group)\n";
        if (!j["attributes"].empty()) std::cout << "attributes: " << j["attributes"].dump() << "\n";
        print_tree(j, "");
      }
    };
  });
}

}  // namespace chunkarr::cli
