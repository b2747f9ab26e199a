// Reading HDF5: datasets as lazy sources (raw chunks decoded in parallel), listing.
#include <lzf.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "chunkarr/codec/codec.hpp"
#include "chunkarr/core/chunk_grid.hpp"
#include "chunkarr/core/error.hpp"
#include "chunkarr/core/region_copy.hpp"
#include "io/byte_shuffle.hpp"
#include "io/hdf5_dataset.hpp"

namespace chunkarr {

using detail::hdf5_dataset;
namespace h5 = detail::h5;

namespace detail {

std::string hdf5_dataset::unsupported() const {
  if (!type.type) return type.unsupported;
  if (layout == "virtual") return "virtual datasets are not supported";
  for (const h5::filter& f : filters) {
    if (!f.available && !(f.id == lzf_filter_id && raw_chunks()))
      return "filter '" + f.name + "' (id " + std::to_string(f.id) + ") is not available";
  }
  return "";
}

bool hdf5_dataset::raw_chunks() const {
  if (layout != "chunked") return false;
  for (const h5::filter& f : filters) {
    if (f.id != H5Z_FILTER_DEFLATE && f.id != H5Z_FILTER_SHUFFLE && f.id != H5Z_FILTER_FLETCHER32 &&
        f.id != lzf_filter_id)
      return false;
  }
  return true;
}

hdf5_dataset open_dataset(const H5::H5File& file, const std::string& file_name,
                          const std::string& path) {
  h5::quiet();
  hdf5_dataset d;
  d.where = file_name + ":" + path;
  d.file = file_name;
  const auto info = h5::get_object_info(file, path);
  if (!info) throw_error<not_found_error>(d.where, ": no such dataset");
  if (info->type != H5O_TYPE_DATASET) throw_error<not_found_error>(d.where, ": not a dataset");
  d.id = h5::checked(d.where + ": cannot open", [&] { return file.openDataSet(path); });
  try {
    const H5::DataType type = d.id.getDataType();
    const H5::DSetCreatPropList dcpl = d.id.getCreatePlist();
    d.type = h5::classify(type);
    d.extent = h5::get_extent(d.id.getSpace());
    switch (dcpl.getLayout()) {
      case H5D_CHUNKED: {
        d.layout = "chunked";
        std::vector<hsize_t> dims(d.extent.shape.size());
        dcpl.getChunk(static_cast<int>(dims.size()), dims.data());
        for (hsize_t c : dims) d.storage_chunks.push_back(static_cast<index_t>(c));
        break;
      }
      case H5D_CONTIGUOUS:
        d.layout = "contiguous";
        break;
      case H5D_COMPACT:
        d.layout = "compact";
        break;
      case H5D_VIRTUAL:
        d.layout = "virtual";
        break;
      default:
        d.layout = "unknown";
    }
    d.filters = h5::get_filters(dcpl);
    d.stored_bytes = static_cast<index_t>(d.id.getStorageSize());
    if (d.type.type) {
      // An enum (not h5py's bool) is read as its integers: HDF5 converts enums by name only.
      // A bitfield is read as a native bitfield (HDF5 converts bitfields only to bitfields),
      // whose bytes are the unsigned integers chunkarr holds.
      const bool as_native = (!d.type.type->is_bool() && type.getClass() == H5T_ENUM) ||
                             type.getClass() == H5T_BITFIELD;
      d.memory_type = as_native ? h5::native_type(type) : h5::memory_type(d.type.type->kind);
      d.fill.assign(d.type.type->itemsize(), std::byte{0});
      d.fill_defined = dcpl.isFillValueDefined() == H5D_FILL_VALUE_USER_DEFINED;
      if (d.fill_defined) {
        dcpl.getFillValue(d.type.type->is_bool() ? h5::native_type(type) : d.memory_type,
                          d.fill.data());
      }
    }
  } catch (const H5::Exception&) {
    h5::fail<format_error>(d.where + ": unreadable dataset header");
  }
  return d;
}

namespace {

// HDF5's Fletcher-32 (H5_checksum_fletcher32): 16-bit words, most significant byte first.
std::uint32_t fletcher32(const std::byte* data, std::size_t len) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(data);
  std::uint32_t sum1 = 0, sum2 = 0;
  std::size_t words = len / 2;
  while (words) {
    std::size_t n = words > 360 ? 360 : words;
    words -= n;
    do {
      sum1 += static_cast<std::uint32_t>((p[0] << 8) | p[1]);
      p += 2;
      sum2 += sum1;
    } while (--n);
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  if (len % 2) {
    sum1 += static_cast<std::uint32_t>(*p << 8);
    sum2 += sum1;
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  sum1 = (sum1 & 0xffff) + (sum1 >> 16);
  sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  return (sum2 << 16) | sum1;
}

class hdf5_source final : public chunk_source {
 public:
  explicit hdf5_source(hdf5_dataset d) : d_(std::move(d)) {
    shape_ = d_.extent.shape;
    kind_ = d_.type.type->kind;
    itemsize_ = d_.type.type->itemsize();
    raw_ = d_.raw_chunks() && !shape_.empty();
    chunks_ = d_.layout == "chunked" ? d_.storage_chunks : auto_chunks(shape_, itemsize_);
    if (raw_) {
      storage_bytes_ = static_cast<index_t>(itemsize_) * element_count(d_.storage_chunks);
      zlib_ = make_codec("zlib:1");
    }
  }

  const shape_t& shape() const override { return shape_; }
  scalar_kind kind() const override { return kind_; }
  const shape_t& chunk_shape() const override { return chunks_; }
  std::string describe() const override { return d_.where; }
  std::string file() const override { return d_.file; }
  index_t scratch_bytes() const override { return raw_ ? 3 * storage_bytes_ + 8 : 0; }

  // Called from the engine's threads: HDF5 serialises the calls (see h5.hpp).
  void read(const box& region, std::span<std::byte> out) const override {
    const auto gate = h5::engine_call();
    if (region.ndim() > 0 && region.empty()) return;
    try {
      if (raw_) return read_raw(region, out);
      read_hyperslab(region, out);
    } catch (const H5::Exception& e) {
      h5::rethrow(e, d_.where);  // every HDF5 call below reports its own failure; not expected
    }
  }

 private:
  void read_hyperslab(const box& region, std::span<std::byte> out) const {
    try {
      const H5::DataSpace file_space = d_.id.getSpace();
      std::vector<hsize_t> start(region.start.begin(), region.start.end());
      std::vector<hsize_t> count(region.ndim());
      for (std::size_t d = 0; d < count.size(); ++d)
        count[d] = static_cast<hsize_t>(region.stop[d] - region.start[d]);
      if (!shape_.empty()) file_space.selectHyperslab(H5S_SELECT_SET, count.data(), start.data());
      const H5::DataSpace mem_space =
          shape_.empty() ? H5::DataSpace(H5S_SCALAR)
                         : H5::DataSpace(static_cast<int>(count.size()), count.data());
      d_.id.read(out.data(), d_.memory_type, mem_space, file_space);
    } catch (const H5::Exception&) {
      h5::fail(d_.where + ": cannot read " + to_string(region));
    }
  }

  // Decodes stored chunk `index` into `chunk` (a full chunk, native order).
  void decode_chunk(const shape_t& index, std::span<std::byte> chunk, bytes& stored,
                    bytes& scratch) const {
    std::vector<hsize_t> offset(index.size());
    for (std::size_t k = 0; k < index.size(); ++k)
      offset[k] = static_cast<hsize_t>(index[k] * d_.storage_chunks[k]);
    unsigned mask = 0;
    haddr_t address = HADDR_UNDEF;
    hsize_t size = 0;
    const std::string key = d_.where + " chunk " + to_string(index);
    // H5Dget_chunk_info_by_coord and H5Dread_chunk: no C++ wrapper in HDF5 1.10.
    h5::check(H5Dget_chunk_info_by_coord(d_.id.getId(), offset.data(), &mask, &address, &size),
              key + ": cannot locate");
    if (address == HADDR_UNDEF || size == 0) {  // never written: the fill value
      fill_elements(chunk.data(), static_cast<index_t>(chunk.size() / itemsize_), d_.fill.data(),
                    itemsize_);
      return;
    }
    stored.resize(static_cast<std::size_t>(size));
    std::uint32_t filters = 0;
    h5::check(H5Dread_chunk(d_.id.getId(), H5P_DEFAULT, offset.data(), &filters, stored.data()),
              key + ": cannot read");
    // Undo the pipeline last filter first; a set bit in `filters` means that filter was skipped.
    std::span<const std::byte> data(stored.data(), stored.size());
    bool in_chunk = false;  // whether `data` already lives in `chunk`
    for (std::size_t f = d_.filters.size(); f-- > 0;) {
      if (filters & (1u << f)) continue;
      const h5::filter& flt = d_.filters[f];
      if (flt.id == H5Z_FILTER_FLETCHER32) {
        if (data.size() < 4) throw_error<codec_error>(key, ": truncated (no Fletcher-32 checksum)");
        const std::size_t n = data.size() - 4;
        std::uint32_t stored_sum = 0;
        for (int b = 3; b >= 0; --b)
          stored_sum =
              (stored_sum << 8) | static_cast<std::uint8_t>(data[n + static_cast<std::size_t>(b)]);
        const std::uint32_t sum = fletcher32(data.data(), n);
        const std::uint32_t reversed = __builtin_bswap32(sum);
        if (stored_sum != sum && stored_sum != reversed)
          throw_error<codec_error>(key, ": Fletcher-32 checksum mismatch (corrupt chunk)");
        data = data.first(n);
      } else if (flt.id == H5Z_FILTER_DEFLATE || flt.id == lzf_filter_id) {
        // The next stage's input: the chunk itself when this is the first filter applied.
        const bool last = f == 0 || [&] {
          for (std::size_t g = 0; g < f; ++g)
            if (!(filters & (1u << g))) return false;
          return true;
        }();
        std::span<std::byte> target;
        if (last) {
          target = chunk;
        } else {
          scratch.resize(chunk.size());
          target = scratch;
        }
        if (flt.id == lzf_filter_id) {
          // h5py's LZF: the bare LZF stream of the whole chunk (no header).
          if (data.data() == target.data()) {  // a second compressor decoded into scratch
            throw_error<codec_error>(key,
                                     ": LZF after another compression filter is not "
                                     "supported");
          }
          const unsigned n =
              data.size() > std::numeric_limits<unsigned>::max()
                  ? 0
                  : lzf_decompress(data.data(), static_cast<unsigned>(data.size()), target.data(),
                                   static_cast<unsigned>(target.size()));
          if (n != target.size()) {
            throw_error<codec_error>(
                key, ": lzf: corrupt chunk (",
                n == 0 ? (errno == E2BIG ? "it decodes to more than the chunk's " +
                                               std::to_string(target.size()) + " bytes"
                                         : std::string("not an LZF stream"))
                       : "it decodes to " + std::to_string(n) + " bytes, not " +
                             std::to_string(target.size()),
                ")");
          }
        } else {
          try {
            zlib_->decode(data, target);
          } catch (const codec_error& e) {
            throw_error<codec_error>(key, ": deflate: ", e.what());
          }
        }
        data = target;
        in_chunk = last;
      } else if (flt.id == H5Z_FILTER_SHUFFLE) {
        if (data.size() != chunk.size())
          throw_error<codec_error>(key, ": ", data.size(), " bytes, expected ", chunk.size());
        const std::size_t element = flt.values.empty() ? itemsize_ : flt.values[0];
        if (data.data() == chunk.data()) {
          scratch.assign(data.begin(), data.end());
          data = scratch;
        }
        shuffle_bytes(data.data(), chunk.data(), chunk.size(), std::max<std::size_t>(element, 1),
                      true);
        data = chunk;
        in_chunk = true;
      }
    }
    if (!in_chunk) {
      if (data.size() != chunk.size())
        throw_error<codec_error>(key, ": ", data.size(), " bytes, expected ", chunk.size());
      std::memcpy(chunk.data(), data.data(), chunk.size());
    }
    if (d_.type.type->needs_swap())
      byteswap_elements(chunk.data(), chunk.size() / itemsize_, itemsize_);
  }

  void read_raw(const box& region, std::span<std::byte> out) const {
    const chunk_grid grid(shape_, d_.storage_chunks);
    const box touched = grid.chunks_touching(region);
    bytes chunk, stored, scratch;
    const shape_t& cs = d_.storage_chunks;
    for_each_index(touched, [&](const shape_t& index) {
      const box cb = grid.chunk_box(index);
      const box part = cb.intersect(region);
      // The region is exactly this whole (not clipped) chunk: decode in place.
      bool full = cb == region;
      for (std::size_t k = 0; k < cs.size(); ++k) full = full && cb.stop[k] - cb.start[k] == cs[k];
      if (full) {
        decode_chunk(index, out, stored, scratch);
        return;
      }
      chunk.resize(static_cast<std::size_t>(storage_bytes_));
      decode_chunk(index, chunk, stored, scratch);
      const box src = part.relative_to(cb.start);
      const box dst = part.relative_to(region.start);
      copy_region(chunk.data(), cs, src.start, out.data(), region.shape(), dst.start, part.shape(),
                  itemsize_);
    });
  }

  hdf5_dataset d_;
  shape_t shape_;
  shape_t chunks_;
  scalar_kind kind_;
  std::size_t itemsize_ = 1;
  bool raw_ = false;
  index_t storage_bytes_ = 0;
  std::shared_ptr<const codec> zlib_;
};

}  // namespace

std::shared_ptr<const chunk_source> make_hdf5_source(hdf5_dataset d) {
  const std::string why = d.unsupported();
  if (!why.empty()) {
    if (!d.type.type) throw_error<type_error>(d.where, ": ", why);
    throw_error<codec_error>(d.where, ": ", why);
  }
  if (d.extent.null)
    throw_error<type_error>(d.where, ": a dataset with a null dataspace (no shape)");
  return std::make_shared<hdf5_source>(std::move(d));
}

}  // namespace detail

array open_hdf5(const hdf5_location& where) {
  try {
    const H5::H5File file = h5::open_file(where.file, false);
    return from_source(
        detail::make_hdf5_source(detail::open_dataset(file, where.file.string(), where.object)));
  } catch (const H5::Exception& e) {
    h5::rethrow(e, where.str());  // each call above reports its own failure; not expected
  }
}

namespace {

nlohmann::json fill_json(const hdf5_dataset& d) {
  if (!d.fill_defined || !d.type.type) return nullptr;
  return visit_kind(d.type.type->kind, [&](auto sample) -> nlohmann::json {
    using T = decltype(sample);
    T v;
    std::memcpy(&v, d.fill.data(), sizeof(T));
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(v)) return "NaN";
      if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
    }
    return v;
  });
}

// `seen`: the objects listed so far by address; a second hard link to one of them (a cycle,
// `f['g/up'] = f['/']`, or a shared dataset) is listed as a link to the first path.
void list_into(const H5::H5File& file, const std::string& file_name, const std::string& path,
               hdf5_entry::kind what, std::vector<hdf5_entry>& out,
               std::map<haddr_t, std::string>& seen, const H5::Group* parent = nullptr) {
  hdf5_entry e;
  e.path = path;
  e.what = what;
  auto ignore = [](const std::string&, const std::string&) {};
  if (what == hdf5_entry::kind::dataset) {
    hdf5_dataset d = detail::open_dataset(file, file_name, path);
    e.shape = d.extent.shape;
    e.maxshape = d.extent.maxshape;
    e.type = d.type.type ? d.type.type->typestr() : d.type.name;
    e.unsupported = d.unsupported();
    e.layout = d.layout;
    e.chunks = d.storage_chunks;
    for (const h5::filter& f : d.filters) {
      std::string name = f.id == H5Z_FILTER_DEFLATE      ? "deflate"
                         : f.id == H5Z_FILTER_SHUFFLE    ? "shuffle"
                         : f.id == H5Z_FILTER_FLETCHER32 ? "fletcher32"
                                                         : f.name;
      if (f.id == H5Z_FILTER_DEFLATE && !f.values.empty())
        name += "(" + std::to_string(f.values[0]) + ")";
      if (!f.available && !(f.id == detail::lzf_filter_id && d.raw_chunks()))
        name += " (not available)";
      e.filters.push_back(name);
    }
    e.stored_bytes = d.stored_bytes;
    e.fill_value = fill_json(d);
    e.attributes = h5::read_attributes(d.id, ignore);
    out.push_back(std::move(e));
    return;
  }
  H5::Group group = h5::checked(file_name + ":" + path + ": cannot open group", [&] {
    // By name from the parent when there is one: a lookup by the
    // full path walks every level above again.
    if (!parent) return file.openGroup(path);
    return parent->openGroup(path.substr(path.rfind('/') + 1));
  });
  e.attributes = h5::read_attributes(group, ignore);
  out.push_back(std::move(e));
  for (const h5::link& l : h5::list_links(group)) {
    const std::string child = path == "/" ? "/" + l.name : path + "/" + l.name;
    if (l.what == h5::link::kind::soft || l.what == h5::link::kind::external ||
        l.what == h5::link::kind::other) {
      hdf5_entry link;
      link.path = child;
      link.what = l.what == h5::link::kind::soft       ? hdf5_entry::kind::soft_link
                  : l.what == h5::link::kind::external ? hdf5_entry::kind::external_link
                                                       : hdf5_entry::kind::other;
      link.target = l.target;
      out.push_back(std::move(link));
      continue;
    }
    const auto info = h5::get_object_info(group, l.name);
    if (!info) continue;
    if (const auto [it, first] = seen.emplace(info->address, child); !first) {
      hdf5_entry link;
      link.path = child;
      link.what = hdf5_entry::kind::hard_link;
      link.target = it->second;
      out.push_back(std::move(link));
      continue;
    }
    if (info->type == H5O_TYPE_GROUP) {
      list_into(file, file_name, child, hdf5_entry::kind::group, out, seen, &group);
    } else if (info->type == H5O_TYPE_DATASET) {
      list_into(file, file_name, child, hdf5_entry::kind::dataset, out, seen);
    } else {
      hdf5_entry other;
      other.path = child;
      other.what = hdf5_entry::kind::other;
      other.target = "named datatype";
      out.push_back(std::move(other));
    }
  }
}

}  // namespace

std::vector<hdf5_entry> list_hdf5(const hdf5_location& where) {
  try {
    const H5::H5File file = h5::open_file(where.file, false);
    const auto info = h5::get_object_info(file, where.object);
    if (!info) throw_error<not_found_error>(where.str(), ": no such object");
    std::vector<hdf5_entry> out;
    std::map<haddr_t, std::string> seen{{info->address, where.object}};
    list_into(file, where.file.string(), where.object,
              info->type == H5O_TYPE_DATASET ? hdf5_entry::kind::dataset : hdf5_entry::kind::group,
              out, seen);
    return out;
  } catch (const H5::Exception& e) {
    h5::rethrow(e, where.str());  // each call above reports its own failure; not expected
  }
}

nlohmann::json hdf5_attributes(const hdf5_location& where) {
  try {
    H5::H5File file = h5::open_file(where.file, false);
    const auto info = h5::get_object_info(file, where.object);
    if (!info) throw_error<not_found_error>(where.str(), ": no such object");
    auto ignore = [](const std::string&, const std::string&) {};
    if (info->type == H5O_TYPE_DATASET) {
      hdf5_dataset d = detail::open_dataset(file, where.file.string(), where.object);
      return h5::read_attributes(d.id, ignore);
    }
    H5::Group group = h5::checked(where.str() + ": cannot open group",
                                  [&] { return file.openGroup(where.object); });
    return h5::read_attributes(group, ignore);
  } catch (const H5::Exception& e) {
    h5::rethrow(e, where.str());
  }
}

}  // namespace chunkarr
