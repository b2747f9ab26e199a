#include "chunkarr/core/dtype.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>

#include "chunkarr/core/error.hpp"

namespace chunkarr {
namespace {

struct kind_info {
  scalar_kind kind;
  char letter;  // NumPy's kind character
  std::size_t size;
  const char* name;
};

constexpr kind_info kinds[] = {
    {scalar_kind::bool_, 'b', 1, "bool"},      {scalar_kind::int8, 'i', 1, "int8"},
    {scalar_kind::int16, 'i', 2, "int16"},     {scalar_kind::int32, 'i', 4, "int32"},
    {scalar_kind::int64, 'i', 8, "int64"},     {scalar_kind::uint8, 'u', 1, "uint8"},
    {scalar_kind::uint16, 'u', 2, "uint16"},   {scalar_kind::uint32, 'u', 4, "uint32"},
    {scalar_kind::uint64, 'u', 8, "uint64"},   {scalar_kind::float32, 'f', 4, "float32"},
    {scalar_kind::float64, 'f', 8, "float64"},
};

const kind_info& info(scalar_kind k) {
  return kinds[static_cast<int>(k)];
}

[[noreturn]] void unsupported(std::string_view typestr, std::string_view why) {
  throw_error<type_error>("unsupported dtype '", typestr, "': ", why);
}

}  // namespace

byte_order native_byte_order() {
  return std::endian::native == std::endian::little ? byte_order::little : byte_order::big;
}

dtype dtype::from_typestr(std::string_view typestr) {
  if (typestr.size() < 3) unsupported(typestr, "expected a typestr such as '<f8' or '|u1'");
  const char order_char = typestr[0];
  const char letter = typestr[1];
  const std::string_view digits = typestr.substr(2);
  if (order_char != '<' && order_char != '>' && order_char != '|' && order_char != '=') {
    unsupported(typestr, "the byte order must be '<', '>' or '|'");
  }
  switch (letter) {
    case 'M':
      unsupported(typestr, "datetime64 is not a numeric type chunkarr handles");
    case 'm':
      unsupported(typestr, "timedelta64 is not a numeric type chunkarr handles");
    case 'S':
    case 'a':
    case 'U':
      unsupported(typestr, "strings are not supported");
    case 'V':
      unsupported(typestr, "structured and void types are not supported");
    case 'O':
      unsupported(typestr, "object arrays are not supported");
    case 'c':
      unsupported(typestr, "complex numbers are not supported");
    default:
      break;
  }
  std::size_t size = 0;
  const auto [end, status] = std::from_chars(digits.data(), digits.data() + digits.size(), size);
  if (status == std::errc::result_out_of_range) unsupported(typestr, "the item size is too large");
  if (status != std::errc{} || end != digits.data() + digits.size()) {
    unsupported(typestr, "the item size is not a number");
  }
  if (letter == 'f' && size == 2) unsupported(typestr, "float16 is not supported");
  for (const kind_info& k : kinds) {
    if (k.letter == letter && k.size == size) {
      byte_order order = native_byte_order();
      if (order_char == '<') order = byte_order::little;
      if (order_char == '>') order = byte_order::big;
      if (order_char == '|' && size > 1) {
        unsupported(typestr, "'|' (no byte order) is only valid for one-byte types");
      }
      return dtype{k.kind, order};
    }
  }
  unsupported(typestr, "not one of bool, int8-64, uint8-64, float32, float64");
}

std::string dtype::typestr() const {
  const kind_info& k = info(kind);
  std::string s;
  s += k.size == 1 ? '|' : (order == byte_order::little ? '<' : '>');
  s += k.letter;
  s += std::to_string(k.size);
  return s;
}

std::string dtype::name() const {
  return info(kind).name;
}
std::size_t dtype::itemsize() const {
  return info(kind).size;
}
bool dtype::is_signed_int() const {
  return info(kind).letter == 'i';
}
bool dtype::is_unsigned_int() const {
  return info(kind).letter == 'u';
}

bool operator==(const dtype& a, const dtype& b) {
  return a.kind == b.kind && (a.itemsize() == 1 || a.order == b.order);
}

void byteswap_elements(std::byte* data, std::size_t count, std::size_t itemsize) {
  switch (itemsize) {
    case 1:
      return;
    case 2:
      for (std::size_t i = 0; i < count; ++i) std::swap(data[2 * i], data[2 * i + 1]);
      return;
    case 4:
      for (std::size_t i = 0; i < count; ++i) {
        std::uint32_t v;
        std::memcpy(&v, data + 4 * i, 4);
        v = __builtin_bswap32(v);
        std::memcpy(data + 4 * i, &v, 4);
      }
      return;
    case 8:
      for (std::size_t i = 0; i < count; ++i) {
        std::uint64_t v;
        std::memcpy(&v, data + 8 * i, 8);
        v = __builtin_bswap64(v);
        std::memcpy(data + 8 * i, &v, 8);
      }
      return;
    default:
      for (std::size_t i = 0; i < count; ++i) {
        std::reverse(data + i * itemsize, data + (i + 1) * itemsize);
      }
  }
}

}  // namespace chunkarr
