// chunkarr::convert: HDF5 -> Zarr and Zarr -> HDF5, streaming through the executor.
#include <hdf5_hl.h>  // H5DS: dimension scales
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "chunkarr/codec/codec.hpp"
#include "chunkarr/core/error.hpp"
#include "chunkarr/io/hdf5.hpp"
#include "chunkarr/zarr/group.hpp"
#include "chunkarr/zarr/provenance.hpp"
#include "io/byte_shuffle.hpp"
#include "io/hdf5_dataset.hpp"

namespace chunkarr {

namespace fs = std::filesystem;
namespace h5 = detail::h5;
using nlohmann::json;

namespace {

constexpr const char* soft_links_key = "chunkarr:soft_links";
constexpr const char* external_links_key = "chunkarr:external_links";

void warn(const convert_options& o, const std::string& message) {
  if (o.warn) o.warn(message);
}

std::string child_path(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

// Chunks for an output array: the user's (when they fit the array's rank), else `fallback`;
// each clipped to the array (and at least 1).
shape_t pick_chunks(const convert_options& o, const shape_t& shape, shape_t fallback) {
  shape_t chunks = o.chunks.size() == shape.size() && !o.chunks.empty() ? o.chunks : fallback;
  for (std::size_t k = 0; k < chunks.size(); ++k)
    chunks[k] = std::max<index_t>(1, std::min(chunks[k], std::max<index_t>(shape[k], 1)));
  return chunks;
}

fill_value fill_of(const detail::hdf5_dataset& d) {
  if (!d.fill_defined) return std::int64_t{0};
  return visit_kind(d.type.type->kind, [&](auto sample) -> fill_value {
    using T = decltype(sample);
    T v;
    std::memcpy(&v, d.fill.data(), sizeof(T));
    if constexpr (std::is_same_v<T, bool>) {
      return v;
    } else if constexpr (std::is_floating_point_v<T>) {
      return static_cast<double>(v);
    } else if constexpr (std::is_unsigned_v<T>) {
      return static_cast<std::uint64_t>(v);
    } else {
      return static_cast<std::int64_t>(v);
    }
  });
}

// ---- HDF5 -> Zarr ------------------------------------------------------------------------

// The last component of an HDF5 path ("/grid/time" -> "time").
std::string base_name(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

// The object's path in its file, as HDF5 names it (H5Iget_name; "" when it has none).
std::string object_name(hid_t id) {
  const ssize_t n = H5Iget_name(id, nullptr, 0);
  if (n <= 0) return "";
  std::string name(static_cast<std::size_t>(n) + 1, '\0');
  H5Iget_name(id, name.data(), name.size());
  name.resize(static_cast<std::size_t>(n));
  return name;
}

// The dimension names xarray reads (`_ARRAY_DIMENSIONS`), from HDF5 dimension scales (what
// netCDF-4 dimensions are): a 1-D scale is named by itself; another dataset by the scale
// attached to each axis (the first one, by its name in the file). Nothing when an axis has
// no scale: xarray would take made-up names for real ones.
std::optional<std::vector<std::string>> dimension_names(hid_t dataset, std::size_t rank) {
  // H5DS*: the HDF5 high-level library (no C++ wrapper).
  if (rank == 0) return std::nullopt;
  if (rank == 1 && H5DSis_scale(dataset) > 0) return std::vector{base_name(object_name(dataset))};
  std::vector<std::string> names;
  for (unsigned axis = 0; axis < rank; ++axis) {
    if (H5DSget_num_scales(dataset, axis) <= 0) return std::nullopt;
    std::string name;
    int index = 0;
    const herr_t found = H5DSiterate_scales(
        dataset, axis, &index,
        [](hid_t, unsigned, hid_t scale, void* out) -> herr_t {
          *static_cast<std::string*>(out) = base_name(object_name(scale));
          return 1;  // the first scale names the axis
        },
        &name);
    if (found <= 0 || name.empty()) {
      H5::Exception::clearErrorStack();
      return std::nullopt;
    }
    names.push_back(std::move(name));
  }
  return names;
}

// A netCDF-4 dimension that is not a variable: a scale dataset netCDF writes only to have
// the dimension (no values of its own). Left out: in Zarr the dimension is the name in
// _ARRAY_DIMENSIONS, and an array of it would be a coordinate xarray does not see in the file.
bool netcdf_dimension_only(hid_t dataset, const json& attrs) {
  const auto name = attrs.find("NAME");
  return name != attrs.end() && name->is_string() &&
         name->get<std::string>().rfind("This is a netCDF dimension but not a netCDF variable",
                                        0) == 0 &&
         H5DSis_scale(dataset) > 0;
}

// What HDF5 keeps of dimension scales in attributes (references; _ARRAY_DIMENSIONS says the
// same for Zarr readers).
bool dimension_scale_attribute(const std::string& name) {
  return name == "DIMENSION_LIST" || name == "REFERENCE_LIST";
}

// Why an HDF5 name cannot be a Zarr node's name ("" when it can).
std::string unrepresentable_name(const std::string& name) {
  for (const char* reserved : {".zarray", ".zgroup", ".zattrs", ".zmetadata", "zarr.json"}) {
    if (name == reserved) return "the name '" + name + "' is reserved for Zarr metadata";
  }
  if (name == "." || name == ".." || name.find('\\') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return "the name '" + name + "' cannot be a Zarr key";
  }
  return "";
}

class to_zarr {
 public:
  to_zarr(const hdf5_location& src, const fs::path& dst, const convert_options& o)
      : src_(src), dst_(dst), o_(o) {}

  convert_report run() {
    try {
      return write();
    } catch (const H5::Exception& e) {
      h5::rethrow(e, src_.str());  // each HDF5 call reports its own failure; not expected
    }
  }

 private:
  convert_report write() {
    file_ = h5::open_file(src_.file, false);
    const auto info = h5::get_object_info(file_, src_.object);
    if (!info) throw_error<not_found_error>(src_.str(), ": no such dataset or group");
    codec_ = make_codec(o_.codec.empty() ? "blosc:lz4:5:shuffle" : o_.codec);
    // Count the arrays first, for progress, and refuse unsupported ones before writing.
    plan(src_.object, info->type);
    const location where = resolve_location(dst_.string());
    create_parent_groups(where);
    const std::unique_ptr<staged_write> staging = where.store->stage(where.path, o_.overwrite);
    store_ = staging->store();
    root_ = staging->path();
    if (info->type == H5O_TYPE_DATASET) {
      dataset(src_.object, "");
    } else if (info->type == H5O_TYPE_GROUP) {
      group(src_.object, "");
    } else {
      throw_error<format_error>(src_.str(), ": neither a dataset nor a group");
    }
    staging->commit();
    return report_;
  }

  // Walks the tree without writing: the arrays to convert, and what cannot be converted.
  // Groups are walked through handles (`opened`, children by name relative to their group):
  // HDF5 resolves a full path one level at a time, so paths from the root would make a tree
  // 1000 groups deep quadratic in lookups.
  void plan(const std::string& path, H5O_type_t type, const H5::Group* opened = nullptr) {
    if (type == H5O_TYPE_DATASET) {
      detail::hdf5_dataset d = detail::open_dataset(file_, src_.file.string(), path);
      std::string why = d.unsupported();
      if (why.empty() && d.extent.null) why = "a null dataspace (no shape)";
      if (!why.empty()) {
        if (!o_.skip_unsupported) {
          throw_error<type_error>(d.where, ": ", why, " (--skip-unsupported converts the rest)");
        }
        unsupported_[path] = why;
      } else if (path != src_.object && H5DSis_scale(d.id.getId()) > 0 &&
                 netcdf_dimension_only(
                     d.id.getId(),
                     h5::read_attributes(d.id, [](const std::string&, const std::string&) {}))) {
        dimension_only_.insert(path);  // left out of a tree (converted when asked for alone)
      } else {
        ++total_;
      }
      return;
    }
    if (type != H5O_TYPE_GROUP) return;
    const H5::Group g = opened ? *opened : open_group(path);
    for (const h5::link& l : h5::list_links(g)) {
      if (l.what != h5::link::kind::hard) continue;
      const std::string child = child_path(path, l.name);
      if (const std::string why = unrepresentable_name(l.name); !why.empty()) {
        if (!o_.skip_unsupported) {
          throw_error<type_error>(src_.file.string(), ":", child, ": ", why,
                                  " (--skip-unsupported converts the rest)");
        }
        unsupported_[child] = why;
        continue;
      }
      const auto info = h5::get_object_info(g, l.name);
      if (!info || !planned_.insert(info->address).second) continue;
      if (info->type == H5O_TYPE_GROUP) {
        const H5::Group child_group = open_child(g, l.name, child);
        plan(child, info->type, &child_group);
      } else {
        plan(child, info->type);
      }
    }
  }

  H5::Group open_child(const H5::Group& parent, const std::string& name, const std::string& path) {
    return h5::checked(src_.str() + ": cannot open group " + path,
                       [&] { return parent.openGroup(name); });
  }

  H5::Group open_group(const std::string& path) {
    return h5::checked(src_.str() + ": cannot open group " + path,
                       [&] { return file_.openGroup(path); });
  }

  void group(const std::string& path, const std::string& key, const H5::Group* opened = nullptr) {
    H5::Group g = opened ? *opened : open_group(path);
    const auto self = h5::get_object_info(g, ".");
    if (self) seen_[self->address] = path;
    create_group(*store_, at(key));
    ++report_.groups;
    json attrs = h5::read_attributes(g, skipped_attribute(path));
    for (const h5::link& l : h5::list_links(g)) {
      const std::string child = child_path(path, l.name);
      const std::string child_key = key.empty() ? l.name : key + "/" + l.name;
      switch (l.what) {
        case h5::link::kind::soft:
          attrs[soft_links_key][l.name] = l.target;
          ++report_.links;
          continue;
        case h5::link::kind::external:
          attrs[external_links_key][l.name] = l.target;
          warn(o_, src_.file.string() + ":" + child + ": external link to " + l.target +
                       " not followed (recorded in the .zattrs of " +
                       (key.empty() ? std::string("the root group") : key) + ")");
          ++report_.links;
          continue;
        case h5::link::kind::other:
          warn(o_, src_.file.string() + ":" + child + ": user-defined link skipped");
          continue;
        case h5::link::kind::hard:
          break;
      }
      const auto info = h5::get_object_info(g, l.name);
      if (!info) continue;
      if (auto it = seen_.find(info->address); it != seen_.end()) {
        // A second hard link to an object already converted: recorded, not duplicated.
        attrs[soft_links_key][l.name] = it->second;
        ++report_.links;
        continue;
      }
      if (auto it = unsupported_.find(child); it != unsupported_.end()) {
        const std::string line = src_.file.string() + ":" + child + ": skipped: " + it->second;
        report_.skipped.push_back(line);
        warn(o_, line);
        continue;
      }
      if (info->type == H5O_TYPE_GROUP) {
        const H5::Group child_group = open_child(g, l.name, child);
        group(child, child_key, &child_group);
      } else if (info->type == H5O_TYPE_DATASET) {
        seen_[info->address] = child;
        dataset(child, child_key);
      } else {
        warn(o_, src_.file.string() + ":" + child + ": named datatype skipped");
      }
    }
    write_attributes(*store_, at(key), attrs);
  }

  void dataset(const std::string& path, const std::string& key) {
    if (auto it = unsupported_.find(path); it != unsupported_.end()) {
      const std::string line = src_.file.string() + ":" + path + ": skipped: " + it->second;
      report_.skipped.push_back(line);
      warn(o_, line);
      return;
    }
    detail::hdf5_dataset d = detail::open_dataset(file_, src_.file.string(), path);
    if (dimension_only_.count(path)) return;  // see plan
    json attrs = h5::read_attributes(d.id, skipped_attribute(path));
    if (const auto dims = dimension_names(d.id.getId(), d.extent.shape.size()))
      attrs["_ARRAY_DIMENSIONS"] = *dims;
    array_metadata meta;
    meta.shape = d.extent.shape;
    meta.dtype = *d.type.type;  // the file's own byte order
    meta.chunks = pick_chunks(
        o_, meta.shape,
        d.layout == "chunked" ? d.storage_chunks : auto_chunks(meta.shape, meta.dtype.itemsize()));
    meta.compressor = codec_;
    meta.fill = fill_of(d);
    meta.validate(dst_.string() + (key.empty() ? "" : "/" + key));
    const zarr_array out = zarr_array::create(store_, at(key), meta);
    if (o_.on_array) o_.on_array(d.where, done_, total_);
    const array source = from_source(detail::make_hdf5_source(std::move(d)));
    store(source, out, o_.compute);
    json with_provenance = attrs;
    with_provenance["chunkarr"] =
        provenance_record("convert", {{"source", src_.file.string() + ":" + path}},
                          {{"dtype", meta.dtype.typestr()},
                           {"codec", meta.compressor ? meta.compressor->spec() : "none"},
                           {"chunks", meta.chunks}});
    out.set_attributes(with_provenance);
    ++done_;
    ++report_.arrays;
    report_.bytes += source.nbytes();
  }

  // A key of the tree being written, inside the staged store.
  std::string at(const std::string& key) const { return join_key(root_, key); }

  std::function<void(const std::string&, const std::string&)> skipped_attribute(
      const std::string& path) {
    return [this, path](const std::string& name, const std::string& reason) {
      if (dimension_scale_attribute(name)) return;
      warn(o_, src_.file.string() + ":" + path + ": attribute '" + name + "' skipped: " + reason);
    };
  }

  hdf5_location src_;
  fs::path dst_;
  const convert_options& o_;
  H5::H5File file_;
  std::shared_ptr<kvstore> store_;
  std::string root_;
  std::shared_ptr<const codec> codec_;
  std::map<haddr_t, std::string> seen_;
  std::set<haddr_t> planned_;
  std::map<std::string, std::string> unsupported_;
  index_t total_ = 0, done_ = 0;
  std::set<std::string> dimension_only_;  // netCDF dimensions that are no variable
  convert_report report_;
};

// ---- Zarr -> HDF5 ------------------------------------------------------------------------

struct hdf5_codec {
  int level = -1;  // -1: no compression
  bool shuffle = false;
};

hdf5_codec parse_hdf5_codec(const std::string& spec) {
  if (spec.empty()) return {4, true};
  if (spec == "none") return {};
  const auto colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  if (name == "gzip" || name == "zlib" || name == "deflate") {
    int level = 4;
    if (colon != std::string::npos) {
      const std::string rest = spec.substr(colon + 1);
      if (rest.size() != 1 || rest[0] < '0' || rest[0] > '9') {
        throw_error<codec_error>("codec '", spec, "': the gzip level must be 0-9");
      }
      level = rest[0] - '0';
    }
    return {level, true};
  }
  throw_error<codec_error>("codec '", spec,
                           "': HDF5 output takes gzip[:LEVEL] (deflate with shuffle) or none");
}

class to_hdf5 {
 public:
  to_hdf5(location src, const hdf5_location& dst, const convert_options& o)
      : src_(std::move(src)), dst_(dst), o_(o), codec_(parse_hdf5_codec(o.codec)) {}

  convert_report run() {
    try {
      return write();
    } catch (const H5::Exception& e) {
      h5::rethrow(e, dst_.file.string());  // each HDF5 call reports its own failure
    }
  }

 private:
  convert_report write() {
    const node_kind kind = node_at(*src_.store, src_.path);
    if (kind == node_kind::none) {
      throw_error<format_error>(src_.text, ": not a Zarr array or group (no .zarray or .zgroup)");
    }
    std::error_code ec;
    if (fs::exists(dst_.file, ec) && !o_.overwrite) {
      throw_error<io_error>(dst_.file.string(), " already exists (--overwrite to replace it)");
    }
    if (codec_.level >= 0) {
      deflate_ = make_codec("zlib:" + std::to_string(codec_.level));
    }
    remove_debris_of_dead_writers(dst_.file);
    static std::atomic<int> counter{0};
    fs::path temp = dst_.file;
    temp +=
        ".chunkarr-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
    struct remover {
      fs::path p;
      bool keep = false;
      ~remover() {
        std::error_code e;
        if (!keep) fs::remove(p, e);
      }
    } cleanup{temp};
    {
      file_ = h5::create_file(temp);
      total_ = count_arrays("", kind);
      if (kind == node_kind::array) {
        std::string path = dst_.object;
        if (path == "/") {
          const fs::path named = fs::path(src_.text).lexically_normal();
          std::string stem = named.filename().string();
          if (stem.empty()) stem = named.parent_path().filename().string();
          if (stem.size() > 5 && stem.ends_with(".zarr")) stem.resize(stem.size() - 5);
          path = "/" + (stem.empty() ? std::string("data") : stem);
        }
        array_to_dataset("", path);
      } else {
        group("", dst_.object);
      }
      try {
        h5::checked(dst_.file.string() + ": cannot flush and close", [&] {
          file_.flush(H5F_SCOPE_GLOBAL);
          file_.close();
        });
      } catch (const error&) {
        // After a failed flush or close (a full disk), libhdf5 1.10 crashes in H5F__close when
        // the handle is closed again, as its destructor would: the handle is let go unclosed,
        // and the unfinished file is removed below.
        (void)owned_file_.release();
        throw;
      }
    }
    commit_file(temp, dst_.file, o_.overwrite);
    cleanup.keep = true;
    return report_;
  }

  index_t count_arrays(const std::string& key, node_kind kind) {
    if (kind == node_kind::array) return 1;
    index_t n = 0;
    for (const group_child& c : group_children(*src_.store, at(key)))
      n += count_arrays(join_key(key, c.name), c.kind);
    return n;
  }

  // Links that create their missing parent groups and name in UTF-8. Throws H5::Exception.
  static H5::LinkCreatPropList link_plist() {
    H5::LinkCreatPropList lcpl;
    lcpl.setCreateIntermediateGroup(true);
    lcpl.setCharEncoding(H5T_CSET_UTF8);
    return lcpl;
  }

  std::function<void(const std::string&, const std::string&)> skipped_attribute(
      const std::string& key) {
    return [this, key](const std::string& name, const std::string& reason) {
      warn(o_, shown(key) + ": attribute '" + name + "' skipped: " + reason);
    };
  }

  void group(const std::string& key, const std::string& path) {
    const H5::Group g =
        path == "/" ? h5::checked("cannot open root group", [&] { return file_.openGroup("/"); })
                    : h5::checked(dst_.file.string() + ":" + path + ": cannot create group",
                                  [&] { return file_.createGroup(path, link_plist()); });
    ++report_.groups;
    json attrs = read_attributes(*src_.store, at(key));
    json links = json::object(), external = json::object();
    if (attrs.contains(soft_links_key)) {
      links = attrs[soft_links_key];
      attrs.erase(soft_links_key);
    }
    if (attrs.contains(external_links_key)) {
      external = attrs[external_links_key];
      attrs.erase(external_links_key);
    }
    h5::write_attributes(g, attrs, skipped_attribute(key));
    for (const group_child& c : group_children(*src_.store, at(key))) {
      const std::string child_key = join_key(key, c.name);
      const std::string child = child_path(path, c.name);
      if (c.kind == node_kind::array) {
        array_to_dataset(child_key, child);
      } else {
        group(child_key, child);
      }
    }
    if (links.is_object()) {
      for (const auto& [name, target] : links.items()) {
        if (!target.is_string()) continue;
        const std::string link = child_path(path, name);
        const std::string to = target.get<std::string>();  // a binding: Clang 14 cannot capture it
        h5::checked(dst_.file.string() + ":" + link + ": cannot create soft link",
                    [&] { file_.link(to, link); });
        ++report_.links;
      }
    }
    if (external.is_object()) {  // recorded from HDF5: made links again, still not followed
      for (const auto& [name, target] : external.items()) {
        const std::string text = target.is_string() ? target.get<std::string>() : "";
        const auto colon = text.rfind(':');
        if (colon == std::string::npos || colon == 0) continue;
        const std::string link = child_path(path, name);
        // H5Lcreate_external: no C++ wrapper in HDF5 1.10.
        h5::check(H5Lcreate_external(text.substr(0, colon).c_str(), text.substr(colon + 1).c_str(),
                                     file_.getId(), link.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                  dst_.file.string() + ":" + link + ": cannot create external link");
        ++report_.links;
      }
    }
  }

  void array_to_dataset(const std::string& key, const std::string& path) {
    const zarr_array z = zarr_array::open(src_.store, at(key));
    const array_metadata& meta = z.metadata();
    const scalar_kind kind = meta.dtype.kind;
    const std::size_t itemsize = meta.dtype.itemsize();
    const std::string where = dst_.file.string() + ":" + path;
    if (o_.on_array) o_.on_array(shown(key), done_, total_);
    std::vector<hsize_t> dims(meta.shape.begin(), meta.shape.end());
    const bool chunked = !dims.empty() && element_count(meta.shape) > 0;
    shape_t chunks;
    if (chunked) {
      chunks = pick_chunks(o_, meta.shape, meta.chunks);
      const index_t chunk_bytes = element_count(chunks) * static_cast<index_t>(itemsize);
      if (chunk_bytes >= (index_t{1} << 32)) {
        throw_error<shape_error>(where, ": chunks ", to_string(chunks),
                                 " exceed HDF5's 4 GiB chunk limit; pass smaller --chunks");
      }
    }
    H5::DataSet ds = h5::checked(where + ": cannot create dataset", [&] {
      const H5::DataSpace space = dims.empty()
                                      ? H5::DataSpace(H5S_SCALAR)
                                      : H5::DataSpace(static_cast<int>(dims.size()), dims.data());
      const H5::DSetCreatPropList dcpl;
      if (chunked) {
        const std::vector<hsize_t> cdims(chunks.begin(), chunks.end());
        dcpl.setChunk(static_cast<int>(cdims.size()), cdims.data());
        if (codec_.shuffle && codec_.level >= 0) dcpl.setShuffle();
        if (codec_.level >= 0) dcpl.setDeflate(codec_.level);
      }
      if (!std::holds_alternative<std::monostate>(meta.fill)) {
        const bytes fill = meta.fill_element();
        dcpl.setFillValue(h5::memory_type(kind), fill.data());
      }
      return file_.createDataSet(path, h5::file_type(kind), space, dcpl,
                                 H5::DSetAccPropList::DEFAULT, link_plist());
    });
    const array source = from_zarr(z);
    if (chunked) {
      const index_t chunk_bytes = element_count(chunks) * static_cast<index_t>(itemsize);
      const hid_t id = ds.getId();
      compute_chunks(
          source, chunks,
          [&](const box& b, std::span<const std::byte> values) {  // on the engine's threads
            const auto gate = h5::engine_call();
            // H5Dwrite_chunk: no C++ wrapper in HDF5 1.10.
            std::vector<hsize_t> offset(b.start.begin(), b.start.end());
            if (!deflate_) {
              h5::check(
                  H5Dwrite_chunk(id, H5P_DEFAULT, 0, offset.data(), values.size(), values.data()),
                  where + ": cannot write chunk at " + to_string(b.start));
              return;
            }
            bytes shuffled(values.size());
            detail::shuffle_bytes(values.data(), shuffled.data(), values.size(), itemsize, false);
            const bytes packed = deflate_->encode(shuffled, 1);
            h5::check(
                H5Dwrite_chunk(id, H5P_DEFAULT, 0, offset.data(), packed.size(), packed.data()),
                where + ": cannot write chunk at " + to_string(b.start));
          },
          2 * chunk_bytes + 1024, true, o_.compute);
    } else if (dims.empty()) {
      bytes value(itemsize);
      compute_into(source, value, o_.compute);
      h5::checked(where + ": cannot write", [&] { ds.write(value.data(), h5::memory_type(kind)); });
    }
    // The source's own provenance gives way to this conversion's, kept as JSON text.
    json attrs = z.attributes();
    if (attrs.is_object()) attrs.erase("chunkarr");
    h5::write_attributes(ds, attrs, skipped_attribute(key));
    const json record = provenance_record(
        "convert", {{"source", shown(key)}},
        {{"dtype", meta.dtype.typestr()},
         {"codec", codec_.level < 0 ? std::string("none")
                   : codec_.shuffle ? "gzip:" + std::to_string(codec_.level) + "+shuffle"
                                    : "gzip:" + std::to_string(codec_.level)},
         {"chunks", chunked ? json(chunks) : json::array()}});
    h5::write_attributes(ds, {{"chunkarr", record.dump()}}, skipped_attribute(key));
    ++done_;
    ++report_.arrays;
    report_.bytes += source.nbytes();
  }

  // A key of the source tree: inside its store, and as messages show it.
  std::string at(const std::string& key) const { return join_key(src_.path, key); }
  std::string shown(const std::string& key) const {
    return key.empty() ? src_.text : src_.text + "/" + key;
  }

  location src_;
  hdf5_location dst_;
  const convert_options& o_;
  hdf5_codec codec_;
  std::shared_ptr<const codec> deflate_;
  // The output file: owned through a pointer, so that a handle libhdf5 cannot close again
  // can be let go (see run).
  std::unique_ptr<H5::H5File> owned_file_ = std::make_unique<H5::H5File>();
  H5::H5File& file_ = *owned_file_;
  index_t total_ = 0, done_ = 0;
  convert_report report_;
};

}  // namespace

convert_report convert(const std::string& src, const std::string& dst,
                       const convert_options& options) {
  h5::quiet();
  const std::optional<hdf5_location> src_h5 = parse_hdf5_location(src);
  const std::optional<hdf5_location> dst_h5 = parse_hdf5_location(dst);
  std::error_code ec;
  if (src_h5) {
    if (!fs::exists(src_h5->file, ec)) {
      throw_error<not_found_error>(src_h5->file.string(), ": no such file");
    }
    if (dst_h5) {
      throw_error<value_error>("convert ", src, " ", dst,
                               ": both sides are HDF5; convert goes between HDF5 and Zarr");
    }
    return to_zarr(*src_h5, dst, options).run();
  }
  location zarr_src = resolve_location(src);
  if (zarr_src.is_local_directory() && !fs::exists(zarr_src.directory, ec)) {
    throw_error<not_found_error>(src, ": no such file or directory");
  }
  if (node_at(*zarr_src.store, zarr_src.path) == node_kind::none) {
    throw_error<format_error>(src, ": neither an HDF5 file nor a Zarr array or group");
  }
  if (!dst_h5) {
    throw_error<value_error>("convert ", src, " ", dst,
                             ": both sides are Zarr; convert goes between HDF5 and Zarr (name "
                             "the HDF5 side .h5, .hdf5, .he5 or .nc; chunkarr copy copies Zarr)");
  }
  return to_hdf5(std::move(zarr_src), *dst_h5, options).run();
}

}  // namespace chunkarr
