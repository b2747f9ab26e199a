// The concrete codecs, each defined in the one file that includes its library's header.
#pragma once

#include <memory>
#include <string>

#include "chunkarr/codec/codec.hpp"

namespace chunkarr::detail {

struct blosc_options {
  std::string cname = "lz4";  // lz4, lz4hc, zstd, zlib, blosclz
  int clevel = 5;             // 0-9
  int shuffle = 1;            // 0 none, 1 byte, 2 bit, -1 auto (bit for 1-byte items)
  int blocksize = 0;          // bytes; 0 lets Blosc choose
};

std::shared_ptr<const codec> make_blosc(const blosc_options& options);
std::shared_ptr<const codec> make_zstd(int level);
/// zlib streams (numcodecs "zlib") or gzip members (numcodecs "gzip").
std::shared_ptr<const codec> make_deflate(int level, bool gzip);

}  // namespace chunkarr::detail
