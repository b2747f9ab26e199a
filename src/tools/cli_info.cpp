// chunkarr info PATH [--json]: what an array or a group holds.
#include <algorithm>
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

// ---- HDF5 ---------------------------------------------------------------------------------

const char* kind_name(hdf5_entry::kind k) {
  switch (k) {
    case hdf5_entry::kind::group:
      return "group";
    case hdf5_entry::kind::dataset:
      return "dataset";
    case hdf5_entry::kind::soft_link:
      return "soft_link";
    case hdf5_entry::kind::external_link:
      return "external_link";
    case hdf5_entry::kind::hard_link:
      return "hard_link";
    default:
      return "other";
  }
}

json hdf5_json(const hdf5_entry& e) {
  json j;
  j["path"] = e.path;
  j["kind"] = kind_name(e.what);
  if (e.what == hdf5_entry::kind::dataset) {
    const index_t itemsize =
        e.unsupported.empty() ? static_cast<index_t>(dtype::from_typestr(e.type).itemsize()) : 0;
    const index_t nbytes = element_count(e.shape) * itemsize;
    j["shape"] = e.shape;
    j["maxshape"] = json::array();
    for (index_t m : e.maxshape) j["maxshape"].push_back(m < 0 ? json() : json(m));
    j["dtype"] = e.type;
    if (!e.unsupported.empty()) j["unsupported"] = e.unsupported;
    j["layout"] = e.layout;
    j["chunks"] = e.layout == "chunked" ? json(e.chunks) : json();
    j["filters"] = e.filters;
    j["fill_value"] = e.fill_value;
    j["nbytes"] = nbytes;
    j["stored_bytes"] = e.stored_bytes;
    j["ratio"] = e.stored_bytes > 0 ? static_cast<double>(nbytes) / e.stored_bytes : 0.0;
  }
  if (e.what == hdf5_entry::kind::soft_link || e.what == hdf5_entry::kind::external_link ||
      e.what == hdf5_entry::kind::hard_link)
    j["target"] = e.target;
  if (e.what == hdf5_entry::kind::group || e.what == hdf5_entry::kind::dataset)
    j["attributes"] = e.attributes;
  return j;
}

std::string hdf5_line(const json& d) {
  if (d["kind"] == "soft_link") return "-> " + d["target"].get<std::string>() + " (soft link)";
  if (d["kind"] == "hard_link")
    return "= " + d["target"].get<std::string>() + " (hard link, listed there)";
  if (d["kind"] == "external_link")
    return "-> " + d["target"].get<std::string>() + " (external link, not followed)";
  if (d["kind"] != "dataset") return "(" + d["kind"].get<std::string>() + ")";
  std::string line = shape_text(d["shape"]) + " ";
  if (d.contains("unsupported")) {
    return line + d["dtype"].get<std::string>() +
           " (unsupported: " + d["unsupported"].get<std::string>() + ")";
  }
  line += dtype::from_typestr(d["dtype"].get<std::string>()).name() + ", ";
  line += d["layout"] == "chunked" ? "chunks " + shape_text(d["chunks"])
                                   : d["layout"].get<std::string>();
  std::string filters;
  for (const json& f : d["filters"]) filters += (filters.empty() ? "" : "+") + f.get<std::string>();
  line += ", " + (filters.empty() ? std::string("no filters") : filters);
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.2f", d["ratio"].get<double>());
  return line + ", " + human_bytes(d["nbytes"].get<double>()) + " -> " +
         human_bytes(d["stored_bytes"].get<double>()) + " (ratio " + ratio + ")";
}

void info_hdf5(const std::string& spec, const hdf5_location& where, bool as_json) {
  const std::vector<hdf5_entry> entries = list_hdf5(where);
  json list = json::array();
  for (const hdf5_entry& e : entries) list.push_back(hdf5_json(e));
  if (as_json) {
    json j;
    j["path"] = spec;
    j["format"] = "hdf5";
    j["objects"] = list;
    std::cout << j.dump(2) << "\n";
    return;
  }
  const json& root = list[0];
  if (root["kind"] == "dataset") {
    std::printf("%-16s: %s\n", "path", spec.c_str());
    std::printf("%-16s: %s\n", "type", "hdf5 dataset");
    std::printf("%-16s: %s\n", "dataset", hdf5_line(root).c_str());
    if (root["fill_value"] != nullptr)
      std::printf("%-16s: %s\n", "fill value", root["fill_value"].dump().c_str());
    if (!root["attributes"].empty())
      std::printf("%-16s: %s\n", "attributes", root["attributes"].dump().c_str());
    return;
  }
  std::cout << spec << "  (hdf5 group " << root["path"].get<std::string>() << ")\n";
  if (!root["attributes"].empty()) std::cout << "attributes: " << root["attributes"].dump() << "\n";
  const std::string base = root["path"].get<std::string>();
  for (std::size_t i = 1; i < list.size(); ++i) {
    const json& e = list[i];
    std::string rel = e["path"].get<std::string>().substr(base == "/" ? 1 : base.size() + 1);
    const auto depth = static_cast<std::size_t>(std::count(rel.begin(), rel.end(), '/'));
    const std::string name =
        rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
    std::cout << std::string(4 * depth, ' ') << name;
    if (e["kind"] == "group") {
      std::cout << "/\n";
    } else {
      std::cout << "  " << hdf5_line(e) << "\n";
    }
  }
}

}  // namespace

void add_info(CLI::App& app, std::function<void()>& run) {
  auto* cmd = app.add_subcommand(
      "info",
      "Describe an array (shape, dtype, chunks, codec, sizes) or a group's tree, Zarr or HDF5");
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("PATH", *path,
                  "Zarr array or group directory (may be inside a group), or an HDF5 file or "
                  "object: file.h5, file.h5:/group/dataset")
      ->required();
  cmd->add_flag("--json", *as_json, "Print one JSON object instead of text");
  cmd->callback([&run, path, as_json] {
    run = [path, as_json] {
      if (const auto h5 = parse_hdf5_location(*path)) return info_hdf5(*path, *h5, *as_json);
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
