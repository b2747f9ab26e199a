#include "chunkarr/store/location.hpp"

#include <map>
#include <mutex>

#include "chunkarr/core/error.hpp"

namespace chunkarr {

std::shared_ptr<kvstore> named_memory_store(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<kvstore>> stores;
  std::lock_guard lock(mutex);
  std::shared_ptr<kvstore>& s = stores[name];
  if (!s) s = make_memory_store();
  return s;
}

location resolve_location(std::string_view spec) {
  location loc;
  loc.text = std::string(spec);
  const std::size_t colon = spec.find("://");
  if (colon == std::string_view::npos) {
    if (spec.empty()) throw_error<value_error>("an empty location");
    loc.directory = std::string(spec);
    loc.store = make_directory_store(loc.directory);
    loc.scheme_is_file = true;
    return loc;
  }
  const std::string_view scheme = spec.substr(0, colon);
  const std::string_view rest = spec.substr(colon + 3);
  if (scheme == "file") {
    if (rest.empty() || rest.front() != '/') {
      throw_error<value_error>(spec,
                               ": a file:// location takes an absolute path (file:///data/x.zarr)");
    }
    loc.directory = std::string(rest);
    loc.store = make_directory_store(loc.directory);
    loc.scheme_is_file = true;
    return loc;
  }
  if (scheme == "memory") {
    const std::size_t slash = rest.find('/');
    const std::string name(rest.substr(0, slash));
    if (name.empty())
      throw_error<value_error>(spec, ": name the memory store (memory://NAME/path)");
    loc.store = named_memory_store(name);
    if (slash != std::string_view::npos) {
      std::string path(rest.substr(slash + 1));
      while (!path.empty() && path.back() == '/') path.pop_back();
      check_key(path, true);
      loc.path = path;
    }
    return loc;
  }
  throw_error<value_error>(spec, ": unsupported location scheme '", scheme,
                           "://' (chunkarr reads and writes plain paths, file:// and memory://)");
}

}  // namespace chunkarr
