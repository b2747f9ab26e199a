#include "chunkarr/zarr/metadata.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "chunkarr/core/error.hpp"
#include "chunkarr/zarr/group.hpp"

namespace chunkarr {
namespace {

using json = nlohmann::json;

[[noreturn]] void bad_field(std::string_view where, std::string_view field, std::string_view why) {
  throw_error<format_error>(where, ": field '", field, "' ", why);
}

shape_t parse_extents(const json& doc, const char* field, std::string_view where) {
  if (!doc.contains(field)) bad_field(where, field, "is missing");
  const json& v = doc[field];
  if (!v.is_array()) bad_field(where, field, "must be a list of integers");
  shape_t out;
  for (const json& e : v) {
    if (!e.is_number_integer()) bad_field(where, field, "must be a list of integers");
    if (e.is_number_unsigned() && e.get<std::uint64_t>() > std::numeric_limits<index_t>::max()) {
      bad_field(where, field, "holds a number too large for a 64-bit index");
    }
    out.push_back(e.get<index_t>());
  }
  return out;
}

fill_value parse_fill(const json& v, const dtype& t, std::string_view where) {
  auto bad = [&](std::string_view why) {
    bad_field(where, "fill_value",
              std::string(why) + " for dtype " + t.typestr() + " (got " + v.dump() + ")");
  };
  fill_value fill;
  if (v.is_null()) return fill;
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (!t.is_float()) bad("must be a number");
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    bad("must be a number, \"NaN\", \"Infinity\" or \"-Infinity\"");
  }
  if (v.is_boolean()) {
    fill = v.get<bool>();
  } else if (v.is_number_unsigned()) {
    fill = v.get<std::uint64_t>();
  } else if (v.is_number_integer()) {
    fill = v.get<std::int64_t>();
  } else if (v.is_number_float()) {
    fill = v.get<double>();
  } else {
    bad("must be a number, a boolean or null");
  }
  // Check that the value is representable in the dtype.
  const double as_double = std::visit(
      [](auto x) -> double {
        if constexpr (std::is_same_v<decltype(x), std::monostate>)
          return 0;
        else
          return static_cast<double>(x);
      },
      fill);
  if (t.is_bool()) {
    if (!std::holds_alternative<bool>(fill) && as_double != 0 && as_double != 1) {
      bad("must be true or false");
    }
  } else if (!t.is_float()) {
    if (std::holds_alternative<double>(fill) && as_double != std::floor(as_double)) {
      bad("must be an integer");
    }
    const bool fits = visit_kind(t.kind, [&](auto sample) {
      using T = decltype(sample);
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        if (auto* u = std::get_if<std::uint64_t>(&fill)) {
          return *u <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
        }
        if (auto* i = std::get_if<std::int64_t>(&fill)) {
          if constexpr (std::is_signed_v<T>) {
            return *i >= std::numeric_limits<T>::min() && *i <= std::numeric_limits<T>::max();
          } else {
            return *i >= 0 && static_cast<std::uint64_t>(*i) <= std::numeric_limits<T>::max();
          }
        }
        // A float: within [min, max + 1) exactly (max itself rounds up to a power of two as
        // a double: 9.223372036854776e18 is 2^63, which no int64 holds).
        const double limit = std::ldexp(1.0, std::numeric_limits<T>::digits);
        return as_double >= (std::is_signed_v<T> ? -limit : 0.0) && as_double < limit;
      }
      return true;
    });
    if (!fits) bad("is out of range");
  }
  return fill;
}

json fill_to_json(const fill_value& v) {
  return std::visit(
      [](auto x) -> json {
        using T = decltype(x);
        if constexpr (std::is_same_v<T, std::monostate>) {
          return nullptr;
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::isnan(x)) return "NaN";
          if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
          return x;
        } else {
          return x;
        }
      },
      v);
}

}  // namespace

array_metadata array_metadata::parse(std::string_view text, std::string_view where) {
  json doc = parse_json(text, where);
  if (!doc.is_object()) throw_error<format_error>(where, ": expected a JSON object");
  if (!doc.contains("zarr_format")) bad_field(where, "zarr_format", "is missing");
  if (doc["zarr_format"] != 2) {
    bad_field(where, "zarr_format", "is " + doc["zarr_format"].dump() + "; only 2 is supported");
  }
  array_metadata m;
  m.shape = parse_extents(doc, "shape", where);
  m.chunks = parse_extents(doc, "chunks", where);

  if (!doc.contains("dtype")) bad_field(where, "dtype", "is missing");
  if (!doc["dtype"].is_string()) {
    throw_error<type_error>(where, ": unsupported dtype ", doc["dtype"].dump(),
                            ": structured types are not supported");
  }
  try {
    m.dtype = dtype::from_typestr(doc["dtype"].get<std::string>());
  } catch (const type_error& e) {
    throw_error<type_error>(where, ": ", e.what());
  }

  const json compressor = doc.value("compressor", json());
  if (!compressor.is_null()) {
    try {
      m.compressor = codec_from_zarr(compressor);
    } catch (const codec_error& e) {
      throw_error<codec_error>(where, ": compressor: ", e.what());
    }
  }

  if (!doc.contains("fill_value")) bad_field(where, "fill_value", "is missing");
  m.fill = parse_fill(doc["fill_value"], m.dtype, where);

  const json order = doc.value("order", json("C"));
  if (order == "C") {
    m.order = memory_order::c;
  } else if (order == "F") {
    m.order = memory_order::f;
  } else {
    bad_field(where, "order", "must be \"C\" or \"F\", not " + order.dump());
  }

  const json filters = doc.value("filters", json());
  if (!filters.is_null()) {
    if (!filters.is_array()) bad_field(where, "filters", "must be null or a list");
    if (!filters.empty()) {
      const json& first = filters.front();
      const std::string id =
          first.is_object() && first.contains("id") ? first["id"].dump() : first.dump();
      throw_error<codec_error>(where, ": unsupported filter ", id,
                               " (chunkarr reads arrays without filters)");
    }
  }

  const json separator = doc.value("dimension_separator", json("."));
  if (separator == ".") {
    m.dimension_separator = '.';
  } else if (separator == "/") {
    m.dimension_separator = '/';
  } else {
    bad_field(where, "dimension_separator", "must be \".\" or \"/\", not " + separator.dump());
  }
  m.validate(where);
  return m;
}

void array_metadata::validate(std::string_view where) const {
  try {
    const chunk_grid g = grid();
    const index_t bytes = checked_mul(g.chunk_elements(), static_cast<index_t>(dtype.itemsize()),
                                      "chunk size in bytes");
    if (bytes > max_chunk_bytes) {
      throw_error<shape_error>("chunks ", to_string(chunks), " of ", dtype.name(), " hold ", bytes,
                               " bytes; chunkarr's limit is ", max_chunk_bytes,
                               " bytes (2 GiB) per chunk");
    }
    checked_mul(element_count(shape), static_cast<index_t>(dtype.itemsize()),
                "array size in bytes");
  } catch (const shape_error& e) {
    throw_error<shape_error>(where, ": ", e.what());
  }
}

std::string array_metadata::to_json() const {
  json doc;
  doc["zarr_format"] = 2;
  doc["shape"] = shape;
  doc["chunks"] = chunks;
  doc["dtype"] = dtype.typestr();
  doc["compressor"] = compressor ? compressor->to_zarr() : json();
  doc["fill_value"] = fill_to_json(typed_fill());
  doc["order"] = order == memory_order::c ? "C" : "F";
  doc["filters"] = nullptr;
  doc["dimension_separator"] = std::string(1, dimension_separator);
  return doc.dump(4);
}

std::string array_metadata::chunk_key(std::span<const index_t> index) const {
  if (index.empty()) return "0";
  std::string key;
  for (std::size_t d = 0; d < index.size(); ++d) {
    if (d > 0) key += dimension_separator;
    key += std::to_string(index[d]);
  }
  return key;
}

fill_value array_metadata::typed_fill() const {
  if (std::holds_alternative<std::monostate>(fill)) return fill;
  const bytes element = fill_element();
  return visit_kind(dtype.kind, [&](auto sample) -> fill_value {
    using T = decltype(sample);
    T value;
    std::memcpy(&value, element.data(), sizeof(T));
    if constexpr (std::is_same_v<T, bool>)
      return value;
    else if constexpr (std::is_floating_point_v<T>)
      return static_cast<double>(value);
    else if constexpr (std::is_signed_v<T>)
      return static_cast<std::int64_t>(value);
    else
      return static_cast<std::uint64_t>(value);
  });
}

bytes array_metadata::fill_element() const {
  bytes out(dtype.itemsize());
  visit_kind(dtype.kind, [&](auto sample) {
    using T = decltype(sample);
    const T value = std::visit(
        [](auto x) -> T {
          if constexpr (std::is_same_v<decltype(x), std::monostate>)
            return T{};
          else
            return static_cast<T>(x);
        },
        fill);
    std::memcpy(out.data(), &value, sizeof(T));
  });
  return out;
}

index_t array_metadata::chunk_bytes() const {
  return element_count(chunks) * static_cast<index_t>(dtype.itemsize());
}

std::string fill_to_string(const fill_value& v) {
  return fill_to_json(v).dump();
}

}  // namespace chunkarr
