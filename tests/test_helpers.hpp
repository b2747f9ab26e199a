// Shared helpers for the doctest suites: reference data, Python references, temp dirs.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "chunkarr/chunkarr.hpp"

namespace chunkarr::test {

/// Runs `command` in a shell and returns its standard output; throws when it fails.
inline std::string run_command(const std::string& command) {
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  if (::pclose(pipe) != 0) throw std::runtime_error("command failed: " + command);
  return out;
}

/// A directory removed when the object dies.
class temp_dir {
 public:
  temp_dir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("chunkarr-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// `n` bytes of pseudo-random data with some structure (runs and ramps), so codecs have both
/// something to compress and something they cannot.
inline bytes sample_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  bytes out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned r = rng();
    out[i] = std::byte(static_cast<unsigned char>((i / 64) % 3 == 0 ? (i & 0xff) : (r & 0xff)));
  }
  return out;
}

/// Random elements of kind `k` (valid values: bools are 0 or 1, floats include NaN and -0).
inline bytes sample_elements(scalar_kind k, index_t count, unsigned seed) {
  std::mt19937_64 rng(seed);
  const std::size_t itemsize = make_dtype(k).itemsize();
  bytes out(static_cast<std::size_t>(count) * itemsize);
  visit_kind(k, [&](auto sample) {
    using T = decltype(sample);
    for (index_t i = 0; i < count; ++i) {
      T v;
      const std::uint64_t r = rng();
      if constexpr (std::is_same_v<T, bool>) {
        v = r & 1;
      } else if constexpr (std::is_floating_point_v<T>) {
        v = static_cast<T>(static_cast<double>(static_cast<std::int64_t>(r % 2000001) - 1000000) /
                           997.0);
        if (r % 97 == 0) v = std::numeric_limits<T>::quiet_NaN();
        if (r % 89 == 0) v = T(-0.0);
      } else {
        v = static_cast<T>(r);
      }
      std::memcpy(out.data() + static_cast<std::size_t>(i) * itemsize, &v, sizeof(T));
    }
  });
  return out;
}

/// The elements of `region` taken one by one from a C-order array of `shape` (the obvious,
/// slow way: the reference the fast copies are checked against).
inline bytes naive_extract(const bytes& data, const shape_t& shape, const box& region,
                           std::size_t itemsize) {
  bytes out;
  const shape_t strides = c_strides(shape);
  for_each_index(region, [&](const shape_t& index) {
    index_t offset = 0;
    for (std::size_t d = 0; d < shape.size(); ++d) offset += index[d] * strides[d];
    const auto* p = data.data() + static_cast<std::size_t>(offset) * itemsize;
    out.insert(out.end(), p, p + itemsize);
  });
  return out;
}

/// Writes `values` (C order, region's shape) into `region` of the C-order array `data`.
inline void naive_insert(bytes& data, const shape_t& shape, const box& region, const bytes& values,
                         std::size_t itemsize) {
  const shape_t strides = c_strides(shape);
  std::size_t k = 0;
  for_each_index(region, [&](const shape_t& index) {
    index_t offset = 0;
    for (std::size_t d = 0; d < shape.size(); ++d) offset += index[d] * strides[d];
    std::memcpy(data.data() + static_cast<std::size_t>(offset) * itemsize,
                values.data() + k * itemsize, itemsize);
    ++k;
  });
}

/// A random box within `shape` (possibly empty along an axis when allow_empty).
inline box random_box(const shape_t& shape, std::mt19937& rng, bool allow_empty = false) {
  box b{shape_t(shape.size()), shape_t(shape.size())};
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) continue;
    std::uniform_int_distribution<index_t> pick(0, shape[d]);
    index_t a = pick(rng), c = pick(rng);
    if (a > c) std::swap(a, c);
    if (a == c && !allow_empty) {
      if (c < shape[d])
        ++c;
      else
        --a;
    }
    b.start[d] = a;
    b.stop[d] = c;
  }
  return b;
}

// A float32 array on disk, value (i, j) = sin(i * 0.01) * 100 + j % 17 - 0.5 * (i % 5).
inline zarr_array write_source(const std::filesystem::path& dir, shape_t shape, shape_t chunks,
                               const char* codec = "blosc:lz4:5:shuffle") {
  array_metadata m;
  m.shape = shape;
  m.chunks = chunks;
  m.dtype = make_dtype(scalar_kind::float32);
  m.compressor = make_codec(codec);
  const zarr_array z = zarr_array::create(make_directory_store(dir), "", m);
  for (index_t c = 0; c < z.grid().chunk_count(); ++c) {
    const shape_t index = z.grid().unravel(c);
    const box b = z.grid().chunk_box(index);
    std::vector<float> values(static_cast<std::size_t>(z.grid().chunk_elements()), 0.f);
    for (index_t i = b.start[0]; i < b.stop[0]; ++i) {
      for (index_t j = b.start[1]; j < b.stop[1]; ++j) {
        values[(i - b.start[0]) * chunks[1] + (j - b.start[1])] = static_cast<float>(
            std::sin(i * 0.01) * 100 + static_cast<double>(j % 17) - 0.5 * (i % 5));
      }
    }
    z.write_chunk(index, std::as_bytes(std::span(values)));
  }
  return z;
}

inline xt::xarray<float> reference(const zarr_array& z) {
  xt::xarray<float> x(std::vector<std::size_t>(z.shape().begin(), z.shape().end()));
  z.read(box::whole(z.shape()), std::as_writable_bytes(std::span(x.data(), x.size())));
  return x;
}

}  // namespace chunkarr::test
