// HDF5 locations without the HDF5 library: suffixes, the file signature, `file.h5:/path`
// specs and the automatic chunk shape. Built with or without CHUNKARR_WITH_HDF5, so every
// command recognises an HDF5 operand and can say why it cannot read it.
#include <cctype>
#include <cstring>
#include <fstream>

#include "chunkarr/io/hdf5.hpp"

namespace chunkarr {

bool has_hdf5_suffix(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".h5" || ext == ".hdf5" || ext == ".he5" || ext == ".nc" || ext == ".hdf" ||
         ext == ".h5py" || ext == ".nc4";
}

bool is_hdf5_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  static constexpr char signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return false;
  for (std::uintmax_t offset = 0; offset + 8 <= size; offset = offset ? offset * 2 : 512) {
    char buffer[8];
    in.seekg(static_cast<std::streamoff>(offset));
    if (!in.read(buffer, 8)) return false;
    if (std::memcmp(buffer, signature, 8) == 0) return true;
  }
  return false;
}

std::optional<hdf5_location> parse_hdf5_location(std::string_view spec) {
  const std::string s(spec);
  const auto colon = s.rfind(':');
  if (colon != std::string::npos && colon > 0) {
    const std::filesystem::path file = s.substr(0, colon);
    std::string object = s.substr(colon + 1);
    if (has_hdf5_suffix(file) || is_hdf5_file(file)) {
      if (object.empty() || object[0] != '/') object = "/" + object;
      while (object.size() > 1 && object.back() == '/') object.pop_back();
      return hdf5_location{file, object};
    }
  }
  if (has_hdf5_suffix(s) || is_hdf5_file(s)) return hdf5_location{s, "/"};
  return std::nullopt;
}

shape_t auto_chunks(const shape_t& shape, std::size_t itemsize, index_t target) {
  shape_t chunks(shape.size(), 1);
  index_t bytes = static_cast<index_t>(itemsize);
  // Whole along trailing axes while they fit, then split the axis where the budget runs out.
  for (std::size_t k = shape.size(); k-- > 0;) {
    const index_t n = std::max<index_t>(shape[k], 1);
    if (bytes * n <= target) {
      chunks[k] = n;
      bytes *= n;
    } else {
      chunks[k] = std::max<index_t>(1, target / bytes);
      break;
    }
  }
  return chunks;
}

}  // namespace chunkarr
