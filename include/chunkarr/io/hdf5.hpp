// HDF5 files: lazy sources, a description of their contents, and conversion to and from Zarr.
//
// An HDF5 location is spelled `file.h5:/group/dataset` (the part after the colon defaults to
// the root group). `open_hdf5` makes a dataset a lazy `array` read chunk-aligned: for chunked
// datasets whose filters are deflate, shuffle and fletcher32, chunkarr reads the stored chunks
// raw and decodes them on all cores (HDF5 itself would decode behind its global lock, on one
// core); other layouts and filters go through H5Dread.
//
// `convert` copies a dataset or a whole group tree between HDF5 and Zarr, streaming under the
// memory limit through the same executor as `store`. Its destination appears only when
// complete: a Zarr destination is written under a temporary name and renamed into place, an
// HDF5 file is written as a temporary file and renamed. Each array it writes records its
// provenance (zarr/provenance.hpp): under `chunkarr` in a Zarr array's `.zattrs`, as JSON text
// in an HDF5 dataset's `chunkarr` attribute.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chunkarr/exec/compute.hpp"
#include "chunkarr/expr/array.hpp"

namespace chunkarr {

/// A file and an object path inside it ("/" for the root group).
struct hdf5_location {
  std::filesystem::path file;
  std::string object = "/";
  std::string str() const { return file.string() + ":" + object; }
};

/// Whether `path` is an HDF5 file, by its signature (at offset 0, 512, 1024, …).
bool is_hdf5_file(const std::filesystem::path& path);
/// Whether `path` has an HDF5 suffix: .h5 .hdf5 .he5 .nc (.hdf .h5py too).
bool has_hdf5_suffix(const std::filesystem::path& path);
/// Splits `file.h5:/group/dataset`. Returns nullopt unless the part before the last ':' (or the
/// whole spec) is an HDF5 file by signature, or has an HDF5 suffix.
std::optional<hdf5_location> parse_hdf5_location(std::string_view spec);

/// A lazy array over an HDF5 dataset (nothing read but its metadata). Throws not_found_error
/// for a missing path, type_error for a non-numeric dataset, codec_error for a filter that is
/// not available.
array open_hdf5(const hdf5_location& where);

/// One object of an HDF5 file, as `chunkarr info` shows it.
struct hdf5_entry {
  /// hard_link: another name of an object listed before, at `target` (a cycle or a share).
  enum class kind { group, dataset, soft_link, external_link, hard_link, other };
  std::string path;  // "/recordings/lfp"
  kind what = kind::group;
  // datasets
  shape_t shape;
  shape_t maxshape;                  // -1: unlimited
  std::string type;                  // "<f4", or what HDF5 calls it ("compound", …)
  std::string unsupported;           // why chunkarr cannot read it, when it cannot
  std::string layout;                // "chunked", "contiguous", "compact", "virtual"
  shape_t chunks;                    // chunked layout only
  std::vector<std::string> filters;  // "deflate(4)", "shuffle", "fletcher32", "lzf (not available)"
  index_t stored_bytes = 0;
  nlohmann::json fill_value;  // null when undefined
  std::string target;         // links: where they point
  nlohmann::json attributes = nlohmann::json::object();
};
/// The object at `where` and, for a group, everything under it, depth first in name order.
std::vector<hdf5_entry> list_hdf5(const hdf5_location& where);

/// The attributes of the object at `where` (a group or a dataset) as JSON, as `convert` writes
/// them (what JSON cannot hold left out), without listing what is under a group.
nlohmann::json hdf5_attributes(const hdf5_location& where);

struct convert_options {
  shape_t chunks;                 // chunk shape of every output array; empty: automatic
  std::string codec;              // "" : blosc:lz4:5:shuffle to Zarr, gzip:4 (with shuffle) to HDF5
  bool skip_unsupported = false;  // skip datasets chunkarr cannot read, listing them
  bool overwrite = false;         // replace an existing destination
  compute_options compute;        // memory limit, threads, progress (per array)
  /// Warnings (attributes skipped, links not followed, datasets skipped); default: none.
  std::function<void(const std::string&)> warn;
  /// Called before each array is written: (source path, index, count).
  std::function<void(const std::string&, index_t, index_t)> on_array;
};

struct convert_report {
  index_t arrays = 0;
  index_t groups = 0;
  index_t links = 0;
  index_t bytes = 0;                 // uncompressed bytes written
  std::vector<std::string> skipped;  // "path: reason"
};

/// Converts `src` to `dst`, HDF5 to Zarr or Zarr to HDF5 (the direction from each side's
/// signature or suffix). A Zarr side is a directory (`exp.zarr`, `exp.zarr/recordings/lfp`);
/// an HDF5 side is `file.h5` or `file.h5:/group/dataset`.
convert_report convert(const std::string& src, const std::string& dst,
                       const convert_options& options = {});

/// The chunk shape `convert` picks for a dataset of `shape` with no chunking of its own:
/// about `target` bytes, whole along the trailing axes, split along the leading ones.
shape_t auto_chunks(const shape_t& shape, std::size_t itemsize, index_t target = 8 << 20);

}  // namespace chunkarr
