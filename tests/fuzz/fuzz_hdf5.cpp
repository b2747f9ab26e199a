// libFuzzer target: opening, listing and reading HDF5 files, as `chunkarr info`, `cat` and
// `convert` do.
//
// The input is written to a file, listed from the root, and each readable dataset of up to
// 2^16 elements is read whole. Everything must succeed or throw a chunkarr::error. libhdf5
// itself is not built with the sanitizers and has crashes of its own on corrupt files (see
// the README): CI replays this target's corpus rather than mutating it.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "chunkarr/chunkarr.hpp"

using namespace chunkarr;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = (std::filesystem::temp_directory_path() /
                                   ("chunkarr-fuzz-" + std::to_string(::getpid()) + ".h5"))
                                      .string();
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  } else {
    return 0;
  }
  try {
    for (const hdf5_entry& e : list_hdf5({path, "/"})) {
      if (e.what != hdf5_entry::kind::dataset || !e.unsupported.empty()) continue;
      try {
        const array a = open_hdf5({path, e.path});
        if (element_count(a.shape()) > (1 << 16)) continue;
        compute_options o;
        o.threads = 1;
        bytes out(static_cast<std::size_t>(element_count(a.shape())) * a.dtype().itemsize());
        compute_into(a, out, o);
      } catch (const error&) {
      }
    }
  } catch (const error&) {
  }
  std::remove(path.c_str());
  return 0;
}
