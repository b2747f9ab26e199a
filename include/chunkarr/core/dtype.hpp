// Element types.
//
// A `dtype` is one of NumPy's numeric scalar types plus the byte order its values have on
// disk. In memory chunkarr always holds values in the machine's order; the byte order only
// matters when a chunk is decoded or encoded. The zarr spelling (`<f8`, `|b1`, `>i4`) is the
// one users and files use, so parsing and printing go through it. float16, datetimes, strings
// and structured types are refused with a `type_error` that names the typestr.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chunkarr {

enum class scalar_kind : std::uint8_t {
  bool_,
  int8,
  int16,
  int32,
  int64,
  uint8,
  uint16,
  uint32,
  uint64,
  float32,
  float64,
};

enum class byte_order : std::uint8_t { little, big };

/// The machine's byte order.
byte_order native_byte_order();

struct dtype {
  scalar_kind kind = scalar_kind::float64;
  byte_order order = native_byte_order();  // byte order on disk; memory is always native

  /// Parses a zarr/NumPy typestr such as `<f4`, `>i8`, `|u1`, `|b1`. Throws type_error.
  static dtype from_typestr(std::string_view typestr);
  /// The zarr typestr: `<f4`, `>i8`, `|u1` (single-byte types use `|`).
  std::string typestr() const;
  /// NumPy's name: `float32`, `int64`, `bool`.
  std::string name() const;
  /// Bytes per element.
  std::size_t itemsize() const;

  bool is_bool() const { return kind == scalar_kind::bool_; }
  bool is_float() const { return kind == scalar_kind::float32 || kind == scalar_kind::float64; }
  bool is_signed_int() const;
  bool is_unsigned_int() const;
  /// True when values must be byte-swapped between disk and memory.
  bool needs_swap() const { return itemsize() > 1 && order != native_byte_order(); }

  /// Same kind, same byte order (for single-byte kinds the order does not matter).
  friend bool operator==(const dtype& a, const dtype& b);
};

/// The dtype of kind `k` in native byte order.
inline dtype make_dtype(scalar_kind k) {
  return dtype{k, native_byte_order()};
}

/// The C++ type that holds one element of each kind, and its kind.
template <class T>
struct kind_of;
template <>
struct kind_of<bool> {
  static constexpr scalar_kind value = scalar_kind::bool_;
};
template <>
struct kind_of<std::int8_t> {
  static constexpr scalar_kind value = scalar_kind::int8;
};
template <>
struct kind_of<std::int16_t> {
  static constexpr scalar_kind value = scalar_kind::int16;
};
template <>
struct kind_of<std::int32_t> {
  static constexpr scalar_kind value = scalar_kind::int32;
};
template <>
struct kind_of<std::int64_t> {
  static constexpr scalar_kind value = scalar_kind::int64;
};
template <>
struct kind_of<std::uint8_t> {
  static constexpr scalar_kind value = scalar_kind::uint8;
};
template <>
struct kind_of<std::uint16_t> {
  static constexpr scalar_kind value = scalar_kind::uint16;
};
template <>
struct kind_of<std::uint32_t> {
  static constexpr scalar_kind value = scalar_kind::uint32;
};
template <>
struct kind_of<std::uint64_t> {
  static constexpr scalar_kind value = scalar_kind::uint64;
};
template <>
struct kind_of<float> {
  static constexpr scalar_kind value = scalar_kind::float32;
};
template <>
struct kind_of<double> {
  static constexpr scalar_kind value = scalar_kind::float64;
};

/// Calls `f(T{})` with the C++ type of kind `k` (bool for bool_, std::int8_t for int8, …).
template <class F>
decltype(auto) visit_kind(scalar_kind k, F&& f) {
  switch (k) {
    case scalar_kind::bool_:
      return f(bool{});
    case scalar_kind::int8:
      return f(std::int8_t{});
    case scalar_kind::int16:
      return f(std::int16_t{});
    case scalar_kind::int32:
      return f(std::int32_t{});
    case scalar_kind::int64:
      return f(std::int64_t{});
    case scalar_kind::uint8:
      return f(std::uint8_t{});
    case scalar_kind::uint16:
      return f(std::uint16_t{});
    case scalar_kind::uint32:
      return f(std::uint32_t{});
    case scalar_kind::uint64:
      return f(std::uint64_t{});
    case scalar_kind::float32:
      return f(float{});
    case scalar_kind::float64:
      return f(double{});
  }
  return f(double{});
}

/// Reverses the bytes of each of `count` elements of `itemsize` bytes, in place.
void byteswap_elements(std::byte* data, std::size_t count, std::size_t itemsize);

}  // namespace chunkarr
