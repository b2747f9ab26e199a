#include "chunkarr/core/digest.hpp"

#include <cstdio>

#include "chunkarr/core/error.hpp"

#define XXH_INLINE_ALL  // header-only: no library to link
#include <xxhash.h>

namespace chunkarr {

namespace detail {  // digest_avx2.cpp
XXH128_hash_t xxh3_128_avx2(const void* data, std::size_t size);
XXH_errorcode xxh3_128_update_avx2(XXH3_state_t* state, const void* data, std::size_t size);
}  // namespace detail

namespace {

const bool has_avx2 = __builtin_cpu_supports("avx2");

}  // namespace

struct hasher::state {
  XXH3_state_t xxh;
};

std::string digest::hex() const {
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(high),
                static_cast<unsigned long long>(low));
  return text;
}

std::optional<digest> digest::from_hex(std::string_view text) {
  if (text.size() != 32) return std::nullopt;
  std::uint64_t halves[2] = {0, 0};
  for (std::size_t i = 0; i < 32; ++i) {
    const char c = text[i];
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else
      return std::nullopt;
    halves[i / 16] = halves[i / 16] << 4 | static_cast<std::uint64_t>(v);
  }
  return digest{halves[0], halves[1]};
}

hasher::hasher() : state_(std::make_unique<state>()) {
  if (XXH3_128bits_reset(&state_->xxh) != XXH_OK) throw std::logic_error("XXH3 reset failed");
}

hasher::~hasher() = default;

hasher& hasher::add(std::span<const std::byte> data) {
  if (has_avx2)
    detail::xxh3_128_update_avx2(&state_->xxh, data.data(), data.size());
  else
    XXH3_128bits_update(&state_->xxh, data.data(), data.size());
  return *this;
}

hasher& hasher::add(std::string_view text) {
  add(std::as_bytes(std::span(text.data(), text.size())));
  return add_value(static_cast<std::uint64_t>(text.size()));
}

hasher& hasher::add(const digest& d) {
  add_value(d.high);
  return add_value(d.low);
}

digest hasher::finish() const {
  const XXH128_hash_t h = XXH3_128bits_digest(&state_->xxh);
  return {h.high64, h.low64};
}

digest digest_of(std::span<const std::byte> data) {
  const XXH128_hash_t h = has_avx2 ? detail::xxh3_128_avx2(data.data(), data.size())
                                   : XXH3_128bits(data.data(), data.size());
  return {h.high64, h.low64};
}

}  // namespace chunkarr
