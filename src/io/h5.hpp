// The HDF5 library, wrapped (internal; the only header that includes HDF5's).
//
// chunkarr talks to HDF5 through its C++ API (H5Cpp.h): files, groups, datasets,
// attributes, types and dataspaces are H5:: objects, which close their id when the last copy
// goes (copies share the id through HDF5's reference count). The C API is called, through
// getId(), only where HDF5 1.10's C++ API has no wrapper; each such call says so and has its
// return code checked. The C++ API throws H5::Exception; io/ turns every one into a chunkarr
// error before it leaves (`fail`, `checked`), keeping HDF5's own innermost message.
//
// Debian builds HDF5 thread-safe: the library serialises every call behind its own lock, so
// chunkarr calls it from any thread (reference counts included) and keeps decompression
// outside it. HDF5's error stack and its printing are per thread: call `quiet()` on each.
//
// libhdf5 trusts some addresses it finds in a file: reading a variable-length string follows
// a global-heap ID without checking it (H5HG_read), so a damaged heap crashes the process or
// loops forever (h5py's too). read_attributes reads such strings in a child process it forks,
// and skips them, naming the damage, when the child dies or does not finish.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include <H5Cpp.h>
#include <nlohmann/json.hpp>

#include "chunkarr/core/dtype.hpp"
#include "chunkarr/core/error.hpp"
#include "chunkarr/core/index.hpp"

namespace chunkarr::detail::h5 {

/// Turns off HDF5's printing of its error stack on this thread (chunkarr throws instead).
void quiet();
/// For HDF5 calls on the engine's threads: `quiet()`, and a shared hold on the gate that
/// read_attributes takes exclusively to fork (a child cannot release HDF5's lock if it was
/// held by a thread the child does not have).
[[nodiscard]] std::shared_lock<std::shared_mutex> engine_call();
/// The innermost message on this thread's HDF5 error stack, or "" (for appending to
/// chunkarr's errors); clears the stack.
std::string last_error();

/// Throws `E` "`what` (HDF5: cause)", the cause being HDF5's innermost message when it has one.
/// For use while an HDF5 call's failure is on this thread's error stack.
template <class E = io_error>
[[noreturn]] void fail(const std::string& what) {
  const std::string cause = last_error();
  throw_error<E>(what, cause.empty() ? "" : " (HDF5: " + cause + ")");
}

/// Runs `call` (HDF5 C++ API calls) and returns what it returns; an H5::Exception it throws
/// becomes `E` "`what` (HDF5: cause)".
template <class E = io_error, class Call>
decltype(auto) checked(const std::string& what, Call&& call) {
  try {
    return call();
  } catch (const H5::Exception&) {
    fail<E>(what);
  }
}

/// For the C calls left (no C++ wrapper): throws io_error "`what` (HDF5: cause)" when
/// status < 0.
void check(herr_t status, const std::string& what);

/// Turns an H5::Exception that reached an io/ entry point unexpected into io_error
/// "`where`: HDF5 failed in `function`: `detail` (HDF5: cause)". Call inside a catch block.
[[noreturn]] void rethrow(const H5::Exception& e, const std::string& where);

/// Opens an HDF5 file. Throws not_found_error (no such file) or format_error (a directory,
/// not HDF5) naming the file.
H5::H5File open_file(const std::filesystem::path& file, bool writable);
/// Creates (truncates) an HDF5 file; throws io_error naming it.
H5::H5File create_file(const std::filesystem::path& file);

/// How chunkarr sees an HDF5 datatype.
struct type_info {
  std::optional<dtype> type;  // the dtype (with the file's byte order) when supported
  std::string name;           // "float32 (big-endian)", "compound", "variable-length string"
  std::string unsupported;    // the reason when not supported
  bool bool_enum = false;     // h5py's bool: enum int8 {FALSE=0, TRUE=1}
};
/// Throws H5::Exception when HDF5 cannot describe the type (a corrupt header).
type_info classify(const H5::DataType& type);

/// The HDF5 type chunkarr writes for `kind` (native order; bool as h5py's enum).
H5::DataType file_type(scalar_kind kind);
/// The memory type to read `kind` into (native order).
H5::DataType memory_type(scalar_kind kind);
/// `type` in native byte order (how chunkarr reads an enum: as its integers).
H5::DataType native_type(const H5::DataType& type);

/// Shape and maximum shape of a dataspace (maxshape -1: unlimited). Empty for scalars.
struct extent {
  bool null = false;  // H5S_NULL: no elements at all
  shape_t shape;
  shape_t maxshape;
};
/// Throws format_error "unreadable dataspace" when HDF5 cannot describe it.
extent get_extent(const H5::DataSpace& space);

/// One filter of a dataset's pipeline.
struct filter {
  H5Z_filter_t id = 0;
  std::string name;
  std::vector<unsigned> values;
  bool available = true;
};
/// Throws H5::Exception when the pipeline cannot be read.
std::vector<filter> get_filters(const H5::DSetCreatPropList& dcpl);

/// Attributes of an object as JSON (numbers, arrays of them, strings, booleans). An attribute
/// JSON cannot hold (or HDF5 cannot read, or text that is not UTF-8) is left out and reported
/// through `skipped(name, reason)`. Variable-length strings are read in a child process (see
/// above). `object` is not const because HDF5 1.10's iterateAttrs is not.
nlohmann::json read_attributes(
    H5::H5Object& object,
    const std::function<void(const std::string&, const std::string&)>& skipped);
/// Writes `attrs` onto `object` (h5py's types: int64, float64, bool enum, UTF-8 strings).
/// A value HDF5 cannot hold (an object, null, a mixed list) is reported through `skipped`;
/// an HDF5 failure throws io_error naming the attribute.
void write_attributes(const H5::H5Object& object, const nlohmann::json& attrs,
                      const std::function<void(const std::string&, const std::string&)>& skipped);

/// A link in a group.
struct link {
  std::string name;
  enum class kind { hard, soft, external, other } what = kind::hard;
  std::string target;  // soft: the path; external: "file:/path"
};
/// The group's links, by name. Throws format_error "cannot list the group" when HDF5 cannot.
std::vector<link> list_links(const H5::Group& group);

/// The kind of object at `path` in `loc` (H5O_TYPE_GROUP / DATASET / NAMED_DATATYPE), and its
/// address (to recognise an object reached twice by hard links). nullopt when there is none
/// (or a link on the way dangles).
struct object_info {
  H5O_type_t type = H5O_TYPE_UNKNOWN;
  haddr_t address = 0;
};
std::optional<object_info> get_object_info(const H5::H5Location& loc, const std::string& path);

}  // namespace chunkarr::detail::h5
