#include "chunkarr/store/store.hpp"

#include "chunkarr/core/error.hpp"

namespace chunkarr {

bool kvstore::get_into(std::string_view key, bytes& buffer) const {
  std::optional<bytes> value = get(key);
  if (!value) return false;
  buffer = std::move(*value);
  return true;
}

std::optional<std::size_t> kvstore::size_of(std::string_view key) const {
  auto value = get(key);
  if (!value) return std::nullopt;
  return value->size();
}

std::string join_key(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string r(a);
  if (r.back() != '/') r += '/';
  return r + std::string(b);
}

void check_key(std::string_view key, bool allow_empty) {
  if (key.empty()) {
    if (allow_empty) return;
    throw_error<value_error>("empty store key");
  }
  std::size_t pos = 0;
  while (pos <= key.size()) {
    const std::size_t next = std::min(key.find('/', pos), key.size());
    const std::string_view segment = key.substr(pos, next - pos);
    if (segment.empty() || segment == "." || segment == ".." ||
        segment.find('\\') != std::string_view::npos ||
        segment.find('\0') != std::string_view::npos) {
      throw_error<value_error>("invalid store key '", key,
                               "': segments must be non-empty and not '.' or '..'");
    }
    pos = next + 1;
  }
}

}  // namespace chunkarr
