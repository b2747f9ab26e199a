// HDF5's shuffle filter and its inverse (internal to io/): byte b of element i is stored at
// b * n + i, for n whole elements; a tail of size % itemsize bytes stays where it is.
// Written per element width so the byte loops unroll and read or write sequentially.
#pragma once

#include <cstddef>
#include <cstring>

namespace chunkarr::detail {

template <std::size_t K>
void shuffle_fixed(const std::byte* in, std::byte* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t b = 0; b < K; ++b) out[b * n + i] = in[i * K + b];
  }
}

template <std::size_t K>
void unshuffle_fixed(const std::byte* in, std::byte* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t b = 0; b < K; ++b) out[i * K + b] = in[b * n + i];
  }
}

inline void shuffle_bytes(const std::byte* in, std::byte* out, std::size_t size,
                          std::size_t itemsize, bool inverse) {
  const std::size_t n = size / itemsize;
  switch (itemsize) {
    case 2:
      inverse ? unshuffle_fixed<2>(in, out, n) : shuffle_fixed<2>(in, out, n);
      break;
    case 4:
      inverse ? unshuffle_fixed<4>(in, out, n) : shuffle_fixed<4>(in, out, n);
      break;
    case 8:
      inverse ? unshuffle_fixed<8>(in, out, n) : shuffle_fixed<8>(in, out, n);
      break;
    default:
      for (std::size_t b = 0; b < itemsize; ++b) {
        for (std::size_t i = 0; i < n; ++i) {
          if (inverse)
            out[i * itemsize + b] = in[b * n + i];
          else
            out[b * n + i] = in[i * itemsize + b];
        }
      }
  }
  std::memcpy(out + n * itemsize, in + n * itemsize, size - n * itemsize);
}

}  // namespace chunkarr::detail
