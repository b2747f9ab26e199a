// Locations: where an array or a group lives, said as one string.
//
// Every command and the C++ API take a location and resolve it here, to a `kvstore` and a
// path inside it, so that nothing above the store layer knows what a directory is:
//
//   data/exp.zarr/recordings/lfp     a directory (a plain path)
//   file:///data/exp.zarr            the same, as a URL
//   memory://scratch/lfp             a store kept in this process's memory, by name
//
// Other schemes (s3://, https://) are refused with a message naming the ones there are.
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "chunkarr/store/store.hpp"

namespace chunkarr {

struct location {
  std::shared_ptr<kvstore> store;
  std::string path;  // inside `store` ("" for its root)
  std::string text;  // as given, for messages

  /// Whether the location is a directory on this machine (what `copy` checks overlaps of).
  bool is_local_directory() const { return scheme_is_file; }
  bool scheme_is_file = false;
  std::string directory;  // that directory, when it is one
};

/// Resolves `spec`. Throws value_error for an unknown scheme or a malformed location.
location resolve_location(std::string_view spec);

/// The process-wide memory store called `name` (created on first use), as memory://name.
std::shared_ptr<kvstore> named_memory_store(const std::string& name);

}  // namespace chunkarr
