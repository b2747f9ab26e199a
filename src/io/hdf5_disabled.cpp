// HDF5 support left out of the build (CHUNKARR_WITH_HDF5=OFF): every entry point that needs
// the HDF5 library says so, naming the file, instead of failing to link or guessing.
#include "chunkarr/core/error.hpp"
#include "chunkarr/io/hdf5.hpp"

namespace chunkarr {
namespace {

[[noreturn]] void without_hdf5(const std::string& what) {
  throw_error<format_error>(what,
                            ": this chunkarr was built without HDF5 support "
                            "(configure with -DCHUNKARR_WITH_HDF5=ON to read and write HDF5)");
}

}  // namespace

array open_hdf5(const hdf5_location& where) {
  without_hdf5(where.str());
}

std::vector<hdf5_entry> list_hdf5(const hdf5_location& where) {
  without_hdf5(where.str());
}

nlohmann::json hdf5_attributes(const hdf5_location& where) {
  without_hdf5(where.str());
}

convert_report convert(const std::string& src, const std::string& dst, const convert_options&) {
  without_hdf5(parse_hdf5_location(src) ? src : dst);
}

}  // namespace chunkarr
