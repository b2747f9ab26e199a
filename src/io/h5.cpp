#include "io/h5.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "chunkarr/core/error.hpp"

namespace chunkarr::detail::h5 {

using nlohmann::json;

void quiet() {
  thread_local bool done = false;
  if (!done) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    done = true;
  }
}

std::string last_error() {
  std::string message;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        auto* out = static_cast<std::string*>(data);
        if (out->empty() && e->desc && *e->desc) *out = e->desc;
        return 0;
      },
      &message);
  H5Eclear2(H5E_DEFAULT);
  return message;
}

handle check(hid_t id, handle::closer close, const std::string& what) {
  if (id < 0) {
    const std::string cause = last_error();
    throw_error<io_error>(what, cause.empty() ? "" : " (HDF5: " + cause + ")");
  }
  return handle(id, close);
}

void check(herr_t status, const std::string& what) {
  if (status < 0) {
    const std::string cause = last_error();
    throw_error<io_error>(what, cause.empty() ? "" : " (HDF5: " + cause + ")");
  }
}

handle open_file(const std::filesystem::path& file, bool writable) {
  quiet();
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    throw_error<not_found_error>(file.string(), ": no such file");
  }
  if (std::filesystem::is_directory(file, ec)) {
    throw_error<format_error>(file.string(), ": a directory, not an HDF5 file");
  }
  const hid_t id = H5Fopen(file.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) {
    const std::string cause = last_error();
    throw_error<format_error>(file.string(), ": cannot open as HDF5 (",
                              cause.empty() ? "not an HDF5 file" : cause, ")");
  }
  return handle(id, H5Fclose);
}

handle create_file(const std::filesystem::path& file) {
  quiet();
  return check(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose,
               file.string() + ": cannot create an HDF5 file");
}

namespace {

std::string order_name(H5T_order_t order) {
  return order == H5T_ORDER_BE ? " (big-endian)" : "";
}

bool is_bool_enum(hid_t type) {
  if (H5Tget_nmembers(type) != 2) return false;
  handle base(H5Tget_super(type), H5Tclose);
  if (H5Tget_size(base.get()) != 1) return false;
  bool false_ok = false, true_ok = false;
  for (unsigned i = 0; i < 2; ++i) {
    char* name = H5Tget_member_name(type, i);
    std::int8_t value = -1;
    H5Tget_member_value(type, i, &value);
    if (name) {
      if (std::strcmp(name, "FALSE") == 0 && value == 0) false_ok = true;
      if (std::strcmp(name, "TRUE") == 0 && value == 1) true_ok = true;
      H5free_memory(name);
    }
  }
  return false_ok && true_ok;
}

type_info classify_integer(hid_t type, bool is_enum) {
  type_info info;
  const std::size_t size = H5Tget_size(type);
  const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
  const H5T_order_t order = H5Tget_order(type);
  const std::size_t precision = H5Tget_precision(type);
  const std::string name = std::string(is_signed ? "int" : "uint") + std::to_string(size * 8);
  info.name = (is_enum ? "enum of " : "") + name + order_name(order);
  if (precision != size * 8 || H5Tget_offset(type) != 0) {
    info.unsupported = "an integer type with " + std::to_string(precision) + "-bit precision";
    return info;
  }
  scalar_kind kind;
  switch (size) {
    case 1:
      kind = is_signed ? scalar_kind::int8 : scalar_kind::uint8;
      break;
    case 2:
      kind = is_signed ? scalar_kind::int16 : scalar_kind::uint16;
      break;
    case 4:
      kind = is_signed ? scalar_kind::int32 : scalar_kind::uint32;
      break;
    case 8:
      kind = is_signed ? scalar_kind::int64 : scalar_kind::uint64;
      break;
    default:
      info.unsupported = "a " + std::to_string(size) + "-byte integer type";
      return info;
  }
  info.type = dtype{kind, order == H5T_ORDER_BE ? byte_order::big : byte_order::little};
  return info;
}

}  // namespace

type_info classify(hid_t type) {
  type_info info;
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return classify_integer(type, false);
    case H5T_ENUM: {
      if (is_bool_enum(type)) {
        info.name = "bool";
        info.type = make_dtype(scalar_kind::bool_);
        info.bool_enum = true;
        return info;
      }
      handle base(H5Tget_super(type), H5Tclose);
      return classify_integer(base.get(), true);
    }
    case H5T_FLOAT: {
      const std::size_t size = H5Tget_size(type);
      const std::size_t precision = H5Tget_precision(type);
      const H5T_order_t order = H5Tget_order(type);
      info.name = "float" + std::to_string(precision) + order_name(order);
      const bool ieee32 = size == 4 && precision == 32 && H5Tget_ebias(type) == 127;
      const bool ieee64 = size == 8 && precision == 64 && H5Tget_ebias(type) == 1023;
      if (!ieee32 && !ieee64) {
        if (size > 8) info.name = "long double";
        info.unsupported = size > 8   ? "long double (more than 64 bits) is not supported"
                           : size < 4 ? "float16 is not supported"
                                      : "a non-IEEE floating-point type";
        return info;
      }
      info.type = dtype{ieee32 ? scalar_kind::float32 : scalar_kind::float64,
                        order == H5T_ORDER_BE ? byte_order::big : byte_order::little};
      return info;
    }
    case H5T_STRING:
      info.name = H5Tis_variable_str(type) > 0 ? "variable-length string" : "fixed-length string";
      info.unsupported = std::string("strings (") + info.name + ") are not numeric";
      return info;
    default: {
      struct refused {
        H5T_class_t cls;
        const char* name;
        const char* reason;
      };
      static constexpr refused classes[] = {
          {H5T_COMPOUND, "compound", "compound (structured) types are not supported"},
          {H5T_VLEN, "variable-length sequence", "variable-length types are not supported"},
          {H5T_REFERENCE, "reference", "references are not numeric"},
          {H5T_TIME, "time", "HDF5 time types are not supported"},
          {H5T_OPAQUE, "opaque", "opaque types are not supported"},
          {H5T_BITFIELD, "bitfield", "bitfield types are not supported"},
          {H5T_ARRAY, "array type", "array element types are not supported"},
      };
      info.name = "unknown type";
      info.unsupported = "an unknown HDF5 type class";
      for (const refused& r : classes) {
        if (r.cls != H5Tget_class(type)) continue;
        info.name = r.name;
        info.unsupported = r.reason;
      }
      return info;
    }
  }
}

handle memory_type(scalar_kind kind) {
  if (kind == scalar_kind::bool_) return file_type(kind);
  // Indexed by scalar_kind (bool_ is handled above).
  const hid_t native[] = {-1,
                          H5T_NATIVE_INT8,
                          H5T_NATIVE_INT16,
                          H5T_NATIVE_INT32,
                          H5T_NATIVE_INT64,
                          H5T_NATIVE_UINT8,
                          H5T_NATIVE_UINT16,
                          H5T_NATIVE_UINT32,
                          H5T_NATIVE_UINT64,
                          H5T_NATIVE_FLOAT,
                          H5T_NATIVE_DOUBLE};
  return handle(H5Tcopy(native[static_cast<std::size_t>(kind)]), H5Tclose);
}

handle file_type(scalar_kind kind) {
  if (kind != scalar_kind::bool_) return memory_type(kind);
  handle t(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
  std::int8_t v = 0;
  H5Tenum_insert(t.get(), "FALSE", &v);
  v = 1;
  H5Tenum_insert(t.get(), "TRUE", &v);
  return t;
}

extent get_extent(hid_t space) {
  extent e;
  const H5S_class_t cls = H5Sget_simple_extent_type(space);
  if (cls == H5S_NULL) {
    e.null = true;
    return e;
  }
  if (cls == H5S_SCALAR) return e;
  const int ndims = H5Sget_simple_extent_ndims(space);
  if (ndims < 0) throw_error<format_error>("unreadable dataspace");
  std::vector<hsize_t> dims(static_cast<std::size_t>(ndims)), maxdims(dims.size());
  H5Sget_simple_extent_dims(space, dims.data(), maxdims.data());
  for (std::size_t d = 0; d < dims.size(); ++d) {
    e.shape.push_back(static_cast<index_t>(dims[d]));
    e.maxshape.push_back(maxdims[d] == H5S_UNLIMITED ? -1 : static_cast<index_t>(maxdims[d]));
  }
  return e;
}

std::vector<filter> get_filters(hid_t dcpl) {
  std::vector<filter> out;
  const int n = H5Pget_nfilters(dcpl);
  for (int i = 0; i < n; ++i) {
    filter f;
    unsigned flags = 0, config = 0;
    std::size_t nvalues = 16;
    unsigned values[16] = {};
    char name[256] = {};
    f.id = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &nvalues, values, sizeof name,
                          name, &config);
    f.name = name[0] ? name : "filter " + std::to_string(f.id);
    f.values.assign(values, values + std::min<std::size_t>(nvalues, 16));
    f.available = H5Zfilter_avail(f.id) > 0;
    if (f.available) {
      unsigned filter_config = 0;
      if (H5Zget_filter_info(f.id, &filter_config) >= 0)
        f.available = (filter_config & H5Z_FILTER_CONFIG_DECODE_ENABLED) != 0;
    }
    out.push_back(std::move(f));
  }
  H5Eclear2(H5E_DEFAULT);
  return out;
}

// ---- attributes --------------------------------------------------------------------------

namespace {

// Nests `flat` (row-major values) into lists of `shape`.
json nest(const std::vector<json>& flat, const shape_t& shape, std::size_t axis, std::size_t& pos) {
  if (axis == shape.size()) return flat[pos++];
  json list = json::array();
  for (index_t i = 0; i < shape[axis]; ++i) list.push_back(nest(flat, shape, axis + 1, pos));
  return list;
}

json number_json(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

std::optional<json> read_attribute(hid_t attr, std::string& reason) {
  handle type(H5Aget_type(attr), H5Tclose);
  handle space(H5Aget_space(attr), H5Sclose);
  if (!type || !space) {
    reason = "unreadable";
    return std::nullopt;
  }
  const extent e = get_extent(space.get());
  if (e.null) {
    reason = "an empty (null) dataspace";
    return std::nullopt;
  }
  const index_t count = element_count(e.shape);
  std::vector<json> flat;
  flat.reserve(static_cast<std::size_t>(count));
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls == H5T_STRING) {
    if (H5Tis_variable_str(type.get()) > 0) {
      handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mem.get(), H5T_VARIABLE);
      H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
      std::vector<char*> values(static_cast<std::size_t>(count), nullptr);
      if (H5Aread(attr, mem.get(), values.data()) < 0) {
        reason = "unreadable string";
        return std::nullopt;
      }
      for (char* v : values) flat.emplace_back(v ? std::string(v) : std::string());
      H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, values.data());
    } else {
      const std::size_t size = H5Tget_size(type.get());
      std::vector<char> values(size * static_cast<std::size_t>(count));
      if (H5Aread(attr, type.get(), values.data()) < 0) {
        reason = "unreadable string";
        return std::nullopt;
      }
      const bool space_pad = H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD;
      for (index_t i = 0; i < count; ++i) {
        std::string s(values.data() + static_cast<std::size_t>(i) * size, size);
        s = s.substr(0, s.find('\0'));
        if (space_pad) s.erase(s.find_last_not_of(' ') + 1);
        flat.emplace_back(std::move(s));
      }
    }
  } else {
    const type_info info = classify(type.get());
    if (!info.type) {
      reason = info.name + ": " + info.unsupported;
      return std::nullopt;
    }
    const dtype t = *info.type;
    if (t.is_bool()) {
      handle mem = memory_type(scalar_kind::bool_);
      std::vector<std::int8_t> values(static_cast<std::size_t>(count));
      if (H5Aread(attr, mem.get(), values.data()) < 0) {
        reason = "unreadable";
        return std::nullopt;
      }
      for (auto v : values) flat.emplace_back(v != 0);
    } else if (t.is_float()) {
      std::vector<double> values(static_cast<std::size_t>(count));
      if (H5Aread(attr, H5T_NATIVE_DOUBLE, values.data()) < 0) {
        reason = "unreadable";
        return std::nullopt;
      }
      for (double v : values) flat.push_back(number_json(v));
    } else if (t.is_signed_int()) {
      std::vector<std::int64_t> values(static_cast<std::size_t>(count));
      if (cls == H5T_ENUM) {  // the enum's base integers, as they are
        const std::size_t size = H5Tget_size(type.get());
        std::vector<std::byte> raw(size * values.size());
        handle native(H5Tget_native_type(type.get(), H5T_DIR_ASCEND), H5Tclose);
        if (H5Aread(attr, native.get(), raw.data()) < 0) {
          reason = "unreadable";
          return std::nullopt;
        }
        for (std::size_t i = 0; i < values.size(); ++i) {
          std::int64_t v = 0;
          std::memcpy(&v, raw.data() + i * size, size);
          if (size < 8 && ((v >> (size * 8 - 1)) & 1)) v -= std::int64_t{1} << (size * 8);
          values[i] = v;
        }
      } else if (H5Aread(attr, H5T_NATIVE_INT64, values.data()) < 0) {
        reason = "unreadable";
        return std::nullopt;
      }
      for (auto v : values) flat.emplace_back(v);
    } else {
      std::vector<std::uint64_t> values(static_cast<std::size_t>(count));
      if (cls == H5T_ENUM) {
        const std::size_t size = H5Tget_size(type.get());
        std::vector<std::byte> raw(size * values.size());
        handle native(H5Tget_native_type(type.get(), H5T_DIR_ASCEND), H5Tclose);
        if (H5Aread(attr, native.get(), raw.data()) < 0) {
          reason = "unreadable";
          return std::nullopt;
        }
        for (std::size_t i = 0; i < values.size(); ++i) {
          std::uint64_t v = 0;
          std::memcpy(&v, raw.data() + i * size, size);
          values[i] = v;
        }
      } else if (H5Aread(attr, H5T_NATIVE_UINT64, values.data()) < 0) {
        reason = "unreadable";
        return std::nullopt;
      }
      for (auto v : values) flat.emplace_back(v);
    }
  }
  if (e.shape.empty()) return flat.at(0);
  std::size_t pos = 0;
  return nest(flat, e.shape, 0, pos);
}

}  // namespace

json read_attributes(hid_t object,
                     const std::function<void(const std::string&, const std::string&)>& skipped) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  H5Aiterate2(
      object, H5_INDEX_NAME, H5_ITER_INC, &idx,
      [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
      },
      &names);
  H5Eclear2(H5E_DEFAULT);
  json out = json::object();
  for (const std::string& name : names) {
    handle attr(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
    std::string reason = "unreadable";
    std::optional<json> value;
    if (attr) value = read_attribute(attr.get(), reason);
    H5Eclear2(H5E_DEFAULT);
    if (value) {
      out[name] = std::move(*value);
    } else if (skipped) {
      skipped(name, reason);
    }
  }
  return out;
}

namespace {

// The shape of a rectangular nested list of scalars, or nullopt.
std::optional<shape_t> list_shape(const json& v) {
  if (!v.is_array()) return shape_t{};
  if (v.empty()) return shape_t{0};
  std::optional<shape_t> inner = list_shape(v[0]);
  if (!inner) return std::nullopt;
  for (const json& e : v) {
    std::optional<shape_t> s = list_shape(e);
    if (!s || *s != *inner) return std::nullopt;
  }
  shape_t out{static_cast<index_t>(v.size())};
  out.insert(out.end(), inner->begin(), inner->end());
  return out;
}

void flatten(const json& v, std::vector<const json*>& out) {
  if (!v.is_array()) {
    out.push_back(&v);
    return;
  }
  for (const json& e : v) flatten(e, out);
}

}  // namespace

void write_attributes(hid_t object, const json& attrs,
                      const std::function<void(const std::string&, const std::string&)>& skipped) {
  if (!attrs.is_object()) return;
  for (const auto& [name, value] : attrs.items()) {
    const std::optional<shape_t> shape = list_shape(value);
    std::vector<const json*> flat;
    flatten(value, flat);
    auto skip = [&](const std::string& reason) {
      if (skipped) skipped(name, reason);
    };
    if (!shape) {
      skip("a list that is not rectangular");
      continue;
    }
    enum { none, boolean, integer, unsigned_integer, real, text } kind = none;
    bool mixed = false;
    for (const json* e : flat) {
      auto k = e->is_boolean() ? boolean
               : e->is_number_unsigned()
                   ? (e->get<std::uint64_t>() >
                              static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                          ? unsigned_integer
                          : integer)
               : e->is_number_integer() ? integer
               : e->is_number_float()   ? real
               : e->is_string()         ? text
                                        : none;
      if (k == none) {
        mixed = true;
        break;
      }
      if (kind == none) {
        kind = k;
      } else if (kind != k) {
        const bool numeric = (kind == integer || kind == real || kind == unsigned_integer) &&
                             (k == integer || k == real || k == unsigned_integer);
        if (!numeric) {
          mixed = true;
          break;
        }
        kind = (kind == real || k == real) ? real : unsigned_integer;
      }
    }
    if (mixed || (kind == none && !flat.empty())) {
      skip(value.is_object() ? "an object (JSON dictionary)"
           : value.is_null() ? "null"
                             : "a list of mixed or non-scalar values");
      continue;
    }
    if (kind == none) kind = real;  // an empty list
    std::vector<hsize_t> dims(shape->begin(), shape->end());
    handle space(dims.empty()
                     ? H5Screate(H5S_SCALAR)
                     : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                 H5Sclose);
    handle type;
    std::vector<std::byte> buffer;
    std::vector<std::string> strings;
    std::vector<const char*> pointers;
    const void* data = nullptr;
    switch (kind) {
      case boolean: {
        type = file_type(scalar_kind::bool_);
        for (const json* e : flat)
          buffer.push_back(std::byte{e->get<bool>() ? std::uint8_t{1} : std::uint8_t{0}});
        data = buffer.data();
        break;
      }
      case integer:
      case unsigned_integer:
      case real: {
        type = memory_type(kind == integer            ? scalar_kind::int64
                           : kind == unsigned_integer ? scalar_kind::uint64
                                                      : scalar_kind::float64);
        buffer.resize(flat.size() * 8);
        for (std::size_t i = 0; i < flat.size(); ++i) {
          if (kind == integer) {
            const std::int64_t v = flat[i]->get<std::int64_t>();
            std::memcpy(buffer.data() + i * 8, &v, 8);
          } else if (kind == unsigned_integer) {
            const std::uint64_t v = flat[i]->get<std::uint64_t>();
            std::memcpy(buffer.data() + i * 8, &v, 8);
          } else {
            const double v = flat[i]->get<double>();
            std::memcpy(buffer.data() + i * 8, &v, 8);
          }
        }
        data = buffer.data();
        break;
      }
      case text: {
        type = handle(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(type.get(), H5T_VARIABLE);
        H5Tset_cset(type.get(), H5T_CSET_UTF8);
        for (const json* e : flat) strings.push_back(e->get<std::string>());
        for (const std::string& s : strings) pointers.push_back(s.c_str());
        data = pointers.data();
        break;
      }
      default:
        continue;
    }
    if (H5Aexists(object, name.c_str()) > 0) H5Adelete(object, name.c_str());
    handle attr =
        check(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose, "cannot create attribute " + name);
    check(H5Awrite(attr.get(), type.get(), data), "cannot write attribute " + name);
  }
}

// ---- links and objects ---------------------------------------------------------------------

std::vector<link> list_links(hid_t group) {
  struct state {
    std::vector<link> links;
    hid_t group;
  } s{{}, group};
  hsize_t idx = 0;
  const herr_t status = H5Literate(
      group, H5_INDEX_NAME, H5_ITER_INC, &idx,
      [](hid_t g, const char* name, const H5L_info_t* info, void* data) -> herr_t {
        auto* st = static_cast<state*>(data);
        link l;
        l.name = name;
        if (info->type == H5L_TYPE_HARD) {
          l.what = link::kind::hard;
        } else if (info->type == H5L_TYPE_SOFT || info->type == H5L_TYPE_EXTERNAL) {
          std::vector<char> value(info->u.val_size + 1, '\0');
          H5Lget_val(g, name, value.data(), value.size(), H5P_DEFAULT);
          if (info->type == H5L_TYPE_SOFT) {
            l.what = link::kind::soft;
            l.target = value.data();
          } else {
            l.what = link::kind::external;
            const char* file = nullptr;
            const char* object = nullptr;
            unsigned flags = 0;
            if (H5Lunpack_elink_val(value.data(), value.size(), &flags, &file, &object) >= 0)
              l.target = std::string(file ? file : "?") + ":" + (object ? object : "?");
          }
        } else {
          l.what = link::kind::other;
        }
        st->links.push_back(std::move(l));
        return 0;
      },
      &s);
  if (status < 0) {
    const std::string cause = last_error();
    throw_error<format_error>("cannot list the group",
                              cause.empty() ? "" : " (HDF5: " + cause + ")");
  }
  return std::move(s.links);
}

std::optional<object_info> get_object_info(hid_t loc, const std::string& path) {
  H5O_info_t info;
  if (H5Oget_info_by_name2(loc, path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  return object_info{info.type, info.addr};
}

}  // namespace chunkarr::detail::h5
