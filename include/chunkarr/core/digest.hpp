// Content digests: XXH3-128 (xxHash, Debian's libxxhash-dev), the one wrapper of the library.
//
// Pipelines name what they computed from by digest: each chunk's values, each input chunk, the
// expression. A `hasher` takes bytes in pieces; `digest` is its 128-bit result, written as 32
// hex digits (high half first, as xxhsum does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace chunkarr {

struct digest {
  std::uint64_t high = 0, low = 0;

  std::string hex() const;
  /// The digest 32 hex digits spell, or nothing when they do not.
  static std::optional<digest> from_hex(std::string_view text);
  friend bool operator==(const digest&, const digest&) = default;
  friend auto operator<=>(const digest&, const digest&) = default;
};

/// XXH3-128 of bytes fed in pieces (the same digest however they are split).
class hasher {
 public:
  hasher();
  ~hasher();
  hasher(const hasher&) = delete;
  hasher& operator=(const hasher&) = delete;

  hasher& add(std::span<const std::byte> data);
  hasher& add(std::string_view text);  // its bytes, then its length (so "ab","c" ≠ "a","bc")
  hasher& add(const digest& d);
  template <class T>
  requires std::is_arithmetic_v<T> hasher& add_value(T value) {
    return add(std::as_bytes(std::span<const T, 1>(&value, 1)));
  }
  digest finish() const;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

/// XXH3-128 of `data` in one call.
digest digest_of(std::span<const std::byte> data);

}  // namespace chunkarr
