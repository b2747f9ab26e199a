// The HDF5 library, wrapped (internal; the only header that includes HDF5's).
//
// RAII handles over the C API (the chunk-level calls chunkarr needs — H5Dread_chunk,
// H5Dwrite_chunk, H5Dget_chunk_info_by_coord — have no C++ wrapper in HDF5 1.10), type
// classification into chunkarr dtypes, and attribute <-> JSON. Debian builds HDF5
// thread-safe: the library serialises every call behind its own lock, so chunkarr calls it
// from any thread and keeps decompression outside it.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <hdf5.h>
#include <nlohmann/json.hpp>

#include "chunkarr/core/dtype.hpp"
#include "chunkarr/core/index.hpp"

namespace chunkarr::detail::h5 {

/// An owned hid_t, closed with the right H5?close.
class handle {
 public:
  using closer = herr_t (*)(hid_t);
  handle() = default;
  handle(hid_t id, closer close) : id_(id), close_(close) {}
  handle(handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  handle& operator=(handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  handle(const handle&) = delete;
  handle& operator=(const handle&) = delete;
  ~handle() { reset(); }
  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  closer close_ = nullptr;
};

/// Turns off HDF5's printing of its error stack on this thread (chunkarr throws instead).
void quiet();
/// The innermost message on HDF5's error stack, or "" (for appending to chunkarr's errors).
std::string last_error();

/// Throws io_error "`what`: `cause`" (with HDF5's own message) when id < 0; returns it owned.
handle check(hid_t id, handle::closer close, const std::string& what);
void check(herr_t status, const std::string& what);

handle open_file(const std::filesystem::path& file, bool writable);
handle create_file(const std::filesystem::path& file);

/// How chunkarr sees an HDF5 datatype.
struct type_info {
  std::optional<dtype> type;  // the dtype (with the file's byte order) when supported
  std::string name;           // "float32 (big-endian)", "compound", "variable-length string"
  std::string unsupported;    // the reason when not supported
  bool bool_enum = false;     // h5py's bool: enum int8 {FALSE=0, TRUE=1}
};
type_info classify(hid_t type);

/// The HDF5 type chunkarr writes for `kind` (native order; bool as h5py's enum).
handle file_type(scalar_kind kind);
/// The memory type to read `kind` into (native order).
handle memory_type(scalar_kind kind);

/// Shape and maximum shape of a dataspace (maxshape -1: unlimited). Empty for scalars.
struct extent {
  bool null = false;  // H5S_NULL: no elements at all
  shape_t shape;
  shape_t maxshape;
};
extent get_extent(hid_t space);

/// One filter of a dataset's pipeline.
struct filter {
  H5Z_filter_t id = 0;
  std::string name;
  std::vector<unsigned> values;
  bool available = true;
};
std::vector<filter> get_filters(hid_t dcpl);

/// Attributes of an object as JSON (numbers, arrays of them, strings, booleans). An attribute
/// JSON cannot hold is left out and reported through `skipped(name, reason)`.
nlohmann::json read_attributes(
    hid_t object, const std::function<void(const std::string&, const std::string&)>& skipped);
/// Writes `attrs` onto `object` (h5py's types: int64, float64, bool enum, UTF-8 strings).
/// A value HDF5 cannot hold (an object, null, a mixed list) is reported through `skipped`.
void write_attributes(hid_t object, const nlohmann::json& attrs,
                      const std::function<void(const std::string&, const std::string&)>& skipped);

/// A link in a group.
struct link {
  std::string name;
  enum class kind { hard, soft, external, other } what = kind::hard;
  std::string target;  // soft: the path; external: "file:/path"
};
std::vector<link> list_links(hid_t group);

/// The kind of object at `path` in `loc` (H5O_TYPE_GROUP / DATASET / NAMED_DATATYPE), and its
/// address (to recognise an object reached twice by hard links).
struct object_info {
  H5O_type_t type = H5O_TYPE_UNKNOWN;
  haddr_t address = 0;
};
std::optional<object_info> get_object_info(hid_t loc, const std::string& path);

}  // namespace chunkarr::detail::h5
