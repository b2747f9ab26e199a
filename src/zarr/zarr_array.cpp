#include "chunkarr/zarr/zarr_array.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <nlohmann/json.hpp>

#include "chunkarr/core/error.hpp"
#include "chunkarr/core/region_copy.hpp"
#include "chunkarr/store/location.hpp"
#include "chunkarr/zarr/group.hpp"

namespace chunkarr {
namespace {

// Per-thread scratch buffers, reused across calls so that reads do not allocate per chunk.
// Slot 0 holds a chunk in Fortran order while it is transposed; slot 1 a chunk being split.
enum scratch_slot { fortran_slot, split_slot };
bytes& scratch(scratch_slot slot, std::size_t size) {
  thread_local bytes buffers[2];
  if (buffers[slot].size() < size) buffers[slot].resize(size);
  return buffers[slot];
}

}  // namespace

zarr_array::zarr_array(std::shared_ptr<kvstore> s, std::string path, array_metadata meta)
    : store_(std::move(s)),
      path_(std::move(path)),
      meta_(std::move(meta)),
      grid_(meta_.grid()),
      codecs_(std::vector<std::shared_ptr<const codec>>{meta_.compressor}),
      fill_(meta_.fill_element()) {}

zarr_array zarr_array::open(std::shared_ptr<kvstore> s, std::string path) {
  check_key(path, true);
  const std::string key = join_key(path, ".zarray");
  const std::string where = join_key(s->describe(), key);
  const std::optional<bytes> text = s->get(key);
  if (!text) {
    if (node_at(*s, path) == node_kind::group) {
      throw_error<not_found_error>(join_key(s->describe(), path), " is a Zarr group, not an array");
    }
    throw_error<not_found_error>(join_key(s->describe(), path),
                                 " is not a Zarr array (no .zarray)");
  }
  array_metadata meta = array_metadata::parse(
      std::string_view(reinterpret_cast<const char*>(text->data()), text->size()), where);
  return zarr_array(std::move(s), std::move(path), std::move(meta));
}

zarr_array zarr_array::open(const std::filesystem::path& where) {
  location loc = resolve_location(where.string());
  return open(std::move(loc.store), std::move(loc.path));
}

zarr_array zarr_array::create(std::shared_ptr<kvstore> s, std::string path, array_metadata metadata,
                              bool overwrite) {
  check_key(path, true);
  const std::string where = join_key(s->describe(), path);
  metadata.validate(where);
  if (!s->list(path).empty()) {
    if (!overwrite) {
      throw_error<io_error>(where, " already exists (overwrite to replace it)");
    }
    s->erase_prefix(path);
  }
  if (const auto slash = path.rfind('/'); !path.empty()) {
    create_group(*s, slash == std::string::npos ? "" : std::string_view(path).substr(0, slash));
  }
  const std::string text = metadata.to_json();
  s->set(join_key(path, ".zarray"), std::as_bytes(std::span(text.data(), text.size())));
  return zarr_array(std::move(s), std::move(path), std::move(metadata));
}

std::string zarr_array::describe() const {
  return join_key(store_->describe(), path_);
}

std::string zarr_array::chunk_key(std::span<const index_t> index) const {
  return join_key(path_, meta_.chunk_key(index));
}

bool zarr_array::chunk_exists(std::span<const index_t> index) const {
  return store_->exists(chunk_key(index));
}

std::vector<shape_t> zarr_array::stored_chunks() const {
  const std::size_t skip = path_.empty() ? 0 : path_.size() + 1;
  const std::size_t ndim = grid_.ndim();
  std::vector<shape_t> found;
  for (const std::string& key : store_->list(path_)) {
    if (key.size() <= skip) continue;
    std::string_view name = std::string_view(key).substr(skip);
    // `i.j.k` (or `i/j/k`), each part a chunk index within the grid; "0" for a 0-d array.
    std::vector<std::string_view> parts;
    for (std::size_t end; (end = name.find(meta_.dimension_separator)) != name.npos;) {
      parts.push_back(name.substr(0, end));
      name.remove_prefix(end + 1);
    }
    parts.push_back(name);
    if (parts.size() != std::max<std::size_t>(ndim, 1)) continue;
    shape_t index;
    bool valid = true;
    for (std::size_t d = 0; valid && d < parts.size(); ++d) {
      const std::string_view part = parts[d];
      index_t v = -1;
      const std::errc ec = std::from_chars(part.data(), part.data() + part.size(), v).ec;
      const index_t count = ndim == 0 ? 1 : grid_.chunk_counts()[d];
      // Printed back the same: no leading zeros, no trailing text.
      valid = ec == std::errc() && v >= 0 && v < count && std::to_string(v) == part;
      index.push_back(v);
    }
    if (!valid) continue;
    if (ndim == 0) index.clear();
    found.push_back(std::move(index));
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

void zarr_array::erase_chunk(std::span<const index_t> index) const {
  store_->erase(chunk_key(index));
}

void zarr_array::check_type(scalar_kind k) const {
  if (k != meta_.dtype.kind) {
    throw_error<type_error>(describe(), ": array has dtype ", meta_.dtype.name(), ", not ",
                            make_dtype(k).name());
  }
}

void zarr_array::read_chunk(std::span<const index_t> index, std::span<std::byte> out) const {
  grid_.chunk_box(index);  // validates the index
  const std::size_t itemsize = meta_.dtype.itemsize();
  if (out.size() != static_cast<std::size_t>(meta_.chunk_bytes())) {
    throw_error<shape_error>(describe(), ": chunk buffer of ", out.size(), " bytes, expected ",
                             meta_.chunk_bytes());
  }
  const std::string key = chunk_key(index);
  thread_local bytes stored;  // reused: a fresh buffer per chunk costs its page faults
  if (!store_->get_into(key, stored)) {
    fill_elements(out.data(), grid_.chunk_elements(), fill_.data(), itemsize);
    return;
  }
  const bool transpose = meta_.order == memory_order::f && grid_.ndim() > 1;
  try {
    if (transpose) {
      bytes& f_order = scratch(fortran_slot, out.size());
      codecs_.decode(stored, std::span(f_order.data(), out.size()));
      fortran_to_c(f_order.data(), out.data(), meta_.chunks, itemsize);
    } else {
      codecs_.decode(stored, out);
    }
  } catch (const codec_error& e) {
    throw_error<codec_error>(join_key(store_->describe(), key), ": ", e.what());
  }
  if (stored.capacity() > (std::size_t{64} << 20)) bytes().swap(stored);  // keep no giant
  if (meta_.dtype.needs_swap()) byteswap_elements(out.data(), out.size() / itemsize, itemsize);
  if (meta_.dtype.is_bool()) {
    for (std::byte& b : out) b = b != std::byte{0} ? std::byte{1} : std::byte{0};
  }
}

void zarr_array::write_chunk(std::span<const index_t> index,
                             std::span<const std::byte> data) const {
  grid_.chunk_box(index);
  const std::size_t itemsize = meta_.dtype.itemsize();
  if (data.size() != static_cast<std::size_t>(meta_.chunk_bytes())) {
    throw_error<shape_error>(describe(), ": chunk buffer of ", data.size(), " bytes, expected ",
                             meta_.chunk_bytes());
  }
  const bool transpose = meta_.order == memory_order::f && grid_.ndim() > 1;
  std::span<const std::byte> encoded_from = data;
  bytes converted;
  if (transpose || meta_.dtype.needs_swap()) {
    converted.resize(data.size());
    if (transpose) {
      c_to_fortran(data.data(), converted.data(), meta_.chunks, itemsize);
    } else {
      std::memcpy(converted.data(), data.data(), data.size());
    }
    if (meta_.dtype.needs_swap()) {
      byteswap_elements(converted.data(), converted.size() / itemsize, itemsize);
    }
    encoded_from = converted;
  }
  const std::string key = chunk_key(index);
  bytes encoded;
  try {
    encoded = codecs_.encode(encoded_from, itemsize);
  } catch (const codec_error& e) {
    throw_error<codec_error>(join_key(store_->describe(), key), ": ", e.what());
  }
  store_->set(key, encoded);
}

void zarr_array::check_region(const box& region, std::size_t buffer_bytes) const {
  check_box_within(region, meta_.shape);
  const auto expected = static_cast<std::size_t>(region.size()) * meta_.dtype.itemsize();
  if (buffer_bytes != expected) {
    throw_error<shape_error>(describe(), ": buffer of ", buffer_bytes, " bytes for region ",
                             to_string(region), ", expected ", expected);
  }
}

void zarr_array::read(const box& region, std::span<std::byte> out) const {
  check_region(region, out.size());
  const std::size_t itemsize = meta_.dtype.itemsize();
  const shape_t region_shape = region.shape();
  const std::size_t chunk_size = static_cast<std::size_t>(meta_.chunk_bytes());
  for_each_index(grid_.chunks_touching(region), [&](const shape_t& index) {
    const box cb = grid_.chunk_box(index);
    if (cb == region && cb.shape() == meta_.chunks) {
      read_chunk(index, out);
      return;
    }
    std::span<std::byte> chunk(scratch(split_slot, chunk_size).data(), chunk_size);
    read_chunk(index, chunk);
    const box part = cb.intersect(region);
    copy_region(chunk.data(), meta_.chunks, part.relative_to(cb.start).start, out.data(),
                region_shape, part.relative_to(region.start).start, part.shape(), itemsize);
  });
}

void zarr_array::write(const box& region, std::span<const std::byte> data) const {
  check_region(region, data.size());
  const std::size_t itemsize = meta_.dtype.itemsize();
  const shape_t region_shape = region.shape();
  const std::size_t chunk_size = static_cast<std::size_t>(meta_.chunk_bytes());
  bytes chunk(chunk_size);
  for_each_index(grid_.chunks_touching(region), [&](const shape_t& index) {
    const box cb = grid_.chunk_box(index);
    const box part = cb.intersect(region);
    if (part == cb) {
      // The write covers all of this chunk that lies in the array: pad the rest with fill.
      if (cb.shape() != meta_.chunks) {
        fill_elements(chunk.data(), grid_.chunk_elements(), fill_.data(), itemsize);
      }
    } else {
      read_chunk(index, chunk);
    }
    copy_region(data.data(), region_shape, part.relative_to(region.start).start, chunk.data(),
                meta_.chunks, part.relative_to(cb.start).start, part.shape(), itemsize);
    write_chunk(index, chunk);
  });
}

nlohmann::json zarr_array::attributes() const {
  return read_attributes(*store_, path_);
}

void zarr_array::set_attributes(const nlohmann::json& attributes) const {
  write_attributes(*store_, path_, attributes);
}

}  // namespace chunkarr
