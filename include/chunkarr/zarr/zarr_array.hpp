// A Zarr v2 array in a store.
//
// `zarr_array` reads and writes an array that lives under a prefix of a `store`: whole
// chunks, or any box across chunks. In memory, chunk data is always C order and native byte
// order; Fortran order and big-endian data are converted on the way in and out. Edge chunks
// are stored full size, padded with the fill value; a chunk that is not stored reads as the
// fill value.
//
// Thread safety: const methods may run concurrently, and so may writes of different chunks.
// Two writes that touch the same chunk (a box write updates partly covered chunks by reading
// them first) must not overlap.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "chunkarr/core/chunk_grid.hpp"
#include "chunkarr/store/store.hpp"
#include "chunkarr/zarr/metadata.hpp"

namespace chunkarr {

class zarr_array {
 public:
  /// Opens the array whose `.zarray` is at `path/.zarray` in `s`. Throws not_found_error when
  /// there is none, format_error when it is malformed.
  static zarr_array open(std::shared_ptr<kvstore> s, std::string path = "");
  /// Opens the array at a location (store/location.hpp): a directory path, `file://…` or
  /// `memory://name/path`.
  static zarr_array open(const std::filesystem::path& where);

  /// Creates an array at `path` in `s` and writes its `.zarray`, creating missing parent
  /// groups as zarr-python does. Throws io_error when something already exists there, unless
  /// `overwrite`, which first erases it.
  static zarr_array create(std::shared_ptr<kvstore> s, std::string path, array_metadata metadata,
                           bool overwrite = false);

  const array_metadata& metadata() const { return meta_; }
  const chunk_grid& grid() const { return grid_; }
  const shape_t& shape() const { return meta_.shape; }
  const chunkarr::dtype& dtype() const { return meta_.dtype; }
  const std::string& path() const { return path_; }
  const std::shared_ptr<kvstore>& storage() const { return store_; }
  /// `store-location/path`, for messages.
  std::string describe() const;

  /// The store key of chunk `index` (including the array's path).
  std::string chunk_key(std::span<const index_t> index) const;
  /// Whether chunk `index` is stored.
  bool chunk_exists(std::span<const index_t> index) const;

  /// Decodes chunk `index` into `out`: a full chunk (metadata().chunk_bytes() bytes), C order,
  /// native byte order. A missing chunk reads as the fill value. Throws codec_error naming the
  /// key for a corrupt or wrong-sized chunk.
  void read_chunk(std::span<const index_t> index, std::span<std::byte> out) const;
  /// Encodes and stores chunk `index` from a full chunk buffer (C order, native order).
  void write_chunk(std::span<const index_t> index, std::span<const std::byte> data) const;
  /// The indices of the chunks stored, in C order, from one listing of the store (keys that
  /// name no chunk of the grid are not chunks and are left out).
  std::vector<shape_t> stored_chunks() const;
  /// Removes chunk `index` if stored: it reads as the fill value from then on.
  void erase_chunk(std::span<const index_t> index) const;

  /// Reads `region` into `out` (C order, region.size() * itemsize bytes).
  void read(const box& region, std::span<std::byte> out) const;
  /// Writes `data` (C order, region.size() * itemsize bytes) into `region`.
  void write(const box& region, std::span<const std::byte> data) const;

  /// Typed conveniences; T must match dtype(). (Bool arrays read as bytes 0 or 1 with read().)
  template <class T>
  std::vector<T> read_as(const box& region) const {
    static_assert(!std::is_same_v<T, bool>, "std::vector<bool> has no data(): use read()");
    check_type(kind_of<T>::value);
    std::vector<T> out(static_cast<std::size_t>(region.size()));
    read(region, std::as_writable_bytes(std::span(out.data(), out.size())));
    return out;
  }
  template <class T>
  void write_from(const box& region, std::span<const T> data) const {
    check_type(kind_of<T>::value);
    write(region, std::as_bytes(data));
  }

  /// The `.zattrs` object ({} when absent) and its replacement.
  nlohmann::json attributes() const;
  void set_attributes(const nlohmann::json& attributes) const;

 private:
  zarr_array(std::shared_ptr<kvstore> s, std::string path, array_metadata meta);
  void check_type(scalar_kind k) const;
  // Throws shape_error unless `region` lies in the array and fills `buffer_bytes` exactly.
  void check_region(const box& region, std::size_t buffer_bytes) const;

  std::shared_ptr<kvstore> store_;
  std::string path_;
  array_metadata meta_;
  chunk_grid grid_;
  codec_chain codecs_;
  bytes fill_;
};

}  // namespace chunkarr
