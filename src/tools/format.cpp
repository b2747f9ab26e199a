#include "tools/format.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "chunkarr/core/error.hpp"
#include "chunkarr/core/region_copy.hpp"
#include "chunkarr/store/store.hpp"

namespace chunkarr::cli {
namespace {

template <class T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <class T>
std::string shortest(T v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

template <class T>
void append_json(std::string& out, T v) {
  if constexpr (std::is_same_v<T, bool>) {
    out += v ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(v)) {
      out += "\"NaN\"";
    } else if (std::isinf(v)) {
      out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    } else {
      const std::string s = shortest(v);
      out += s;
      if (s.find_first_of(".e") == std::string::npos) out += ".0";
    }
  } else {
    out += shortest(v);
  }
}

// One float in NumPy's positional "maxprec" style: unique digits, at most 8 decimals.
template <class T>
std::string positional(T v) {
  std::string s = shortest(v);
  if (s.find('e') != std::string::npos || s.size() - std::min(s.find('.'), s.size()) > 9) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.8f", static_cast<double>(v));
    s = buf;
    while (!s.empty() && s.back() == '0') s.pop_back();
  }
  if (s.find('.') == std::string::npos) s += '.';
  return s;
}

template <class T>
std::vector<std::string> format_floats(const std::byte* data, index_t count) {
  double max_abs = 0;
  double min_abs = INFINITY;
  for (index_t i = 0; i < count; ++i) {
    const double v = std::abs(static_cast<double>(load<T>(data + i * sizeof(T))));
    if (!std::isfinite(v) || v == 0) continue;
    max_abs = std::max(max_abs, v);
    min_abs = std::min(min_abs, v);
  }
  const bool scientific =
      max_abs >= 1e8 || (max_abs > 0 && (min_abs < 1e-4 || max_abs / min_abs > 1e3));
  std::vector<std::string> items(static_cast<std::size_t>(count));
  if (scientific) {
    int digits = 0;  // mantissa decimals: the most any value needs, at most 8
    for (index_t i = 0; i < count; ++i) {
      const T v = load<T>(data + i * sizeof(T));
      if (!std::isfinite(v)) continue;
      for (int p = 0; p <= 8; ++p) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.*e", p, static_cast<double>(v));
        if (static_cast<T>(std::strtod(buf, nullptr)) == v || p == 8) {
          digits = std::max(digits, p);
          break;
        }
      }
    }
    for (index_t i = 0; i < count; ++i) {
      const T v = load<T>(data + i * sizeof(T));
      char buf[64];
      if (std::isfinite(v)) {
        std::snprintf(buf, sizeof buf, "%.*e", digits, static_cast<double>(v));
        std::string s = buf;
        if (digits == 0) s.insert(s.find('e'), ".");
        items[i] = s;
      } else {
        items[i] = std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
      }
    }
    return items;
  }
  // Positional: align the decimal points, padding fractions on the right with spaces.
  std::size_t frac_width = 0;
  for (index_t i = 0; i < count; ++i) {
    const T v = load<T>(data + i * sizeof(T));
    if (!std::isfinite(v)) {
      items[i] = std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
      continue;
    }
    items[i] = positional(v);
    frac_width = std::max(frac_width, items[i].size() - items[i].find('.') - 1);
  }
  for (index_t i = 0; i < count; ++i) {
    const std::size_t dot = items[i].find('.');
    if (dot == std::string::npos) continue;
    items[i].append(frac_width - (items[i].size() - dot - 1), ' ');
  }
  return items;
}

std::vector<std::string> format_items(const std::byte* data, index_t count, scalar_kind kind) {
  return visit_kind(kind, [&](auto sample) {
    using T = decltype(sample);
    if constexpr (std::is_floating_point_v<T>) {
      return format_floats<T>(data, count);
    } else {
      std::vector<std::string> items(static_cast<std::size_t>(count));
      for (index_t i = 0; i < count; ++i) {
        const T v = load<T>(data + i * sizeof(T));
        if constexpr (std::is_same_v<T, bool>)
          items[i] = v ? "True" : "False";
        else
          items[i] = shortest(v);
      }
      return items;
    }
  });
}

struct printer {
  const std::vector<std::string>& items;
  const shape_t& shape;
  const std::vector<bool>& elided;
  index_t edge;
  std::size_t width;
  std::string out;

  static constexpr std::size_t line_width = 75;

  void print(std::size_t depth, index_t offset, const shape_t& strides) {
    const std::size_t ndim = shape.size();
    out += '[';
    const index_t n = shape[depth];
    if (depth + 1 == ndim) {
      std::size_t column = depth + 1;
      for (index_t i = 0; i < n; ++i) {
        std::string item = items[static_cast<std::size_t>(offset + i)];
        item.insert(0, width - std::min(width, item.size()), ' ');
        const bool dots = elided[depth] && i == edge;
        std::string piece = dots ? "... " + item : item;
        if (i > 0) {
          if (column + 1 + piece.size() + 1 > line_width) {
            out += '\n';
            out.append(depth + 1, ' ');
            column = depth + 1;
          } else {
            out += ' ';
            ++column;
          }
        }
        out += piece;
        column += piece.size();
      }
      out += ']';
      return;
    }
    const std::string separator = "\n" + std::string(ndim - depth - 2, '\n');
    for (index_t i = 0; i < n; ++i) {
      if (i > 0) {
        out += separator;
        out.append(depth + 1, ' ');
      }
      if (elided[depth] && i == edge) {
        out += "...";
        out += separator;
        out.append(depth + 1, ' ');
      }
      print(depth + 1, offset + i * strides[depth], strides);
    }
    out += ']';
  }
};

}  // namespace

void append_json_values(std::string& out, const std::byte* data, index_t count, scalar_kind kind,
                        bool first) {
  visit_kind(kind, [&](auto sample) {
    using T = decltype(sample);
    for (index_t i = 0; i < count; ++i) {
      if (!first || i > 0) out += ", ";
      append_json(out, load<T>(data + i * sizeof(T)));
    }
  });
}

std::string numpy_str(const std::byte* data, const shape_t& shape, scalar_kind kind,
                      const std::vector<bool>& elided, index_t edge) {
  const index_t count = element_count(shape);
  const std::vector<std::string> items = format_items(data, count, kind);
  if (shape.empty()) return items.at(0);
  if (count == 0) return "[]";
  std::size_t width = 0;
  for (const std::string& s : items) width = std::max(width, s.size());
  printer p{items, shape, elided, edge, width, {}};
  p.print(0, 0, c_strides(shape));
  return p.out;
}

namespace {

// Arrays larger than this print summarised, as NumPy's default print threshold does.
constexpr index_t summary_threshold = 1000;
constexpr index_t edge_items = 3;
// The most bytes of values read at once for JSON.
constexpr index_t slab_bytes = index_t{64} << 20;

}  // namespace

namespace {

void write_json(std::ostream& os, const region_reader& read, const shape_t& shape, const dtype& t,
                index_t rows) {
  const std::size_t itemsize = t.itemsize();
  std::string out = "{\"shape\": [";
  for (std::size_t d = 0; d < shape.size(); ++d) out += (d ? ", " : "") + std::to_string(shape[d]);
  out += "], \"dtype\": \"" + t.typestr() + "\", \"data\": [";
  os << out;
  if (shape.empty()) {
    bytes value(itemsize);
    read(box{}, value);
    out.clear();
    append_json_values(out, value.data(), 1, t.kind, true);
    os << out;
  } else if (element_count(shape) > 0) {
    const index_t row_bytes =
        element_count(std::span(shape).subspan(1)) * static_cast<index_t>(itemsize);
    rows = std::max<index_t>(1, std::min(rows, slab_bytes / std::max<index_t>(row_bytes, 1)));
    bytes buffer;
    for (index_t r0 = 0; r0 < shape[0]; r0 += rows) {
      box slab = box::whole(shape);
      slab.start[0] = r0;
      slab.stop[0] = std::min(shape[0], r0 + rows);
      buffer.resize(static_cast<std::size_t>(slab.size()) * itemsize);
      read(slab, buffer);
      constexpr index_t batch = 1 << 16;  // so the text held at once stays small too
      for (index_t i = 0; i < slab.size(); i += batch) {
        out.clear();
        append_json_values(out, buffer.data() + i * itemsize, std::min(batch, slab.size() - i),
                           t.kind, r0 == 0 && i == 0);
        os << out;
      }
    }
  }
  os << "]}\n";
}

}  // namespace

void print_text(std::ostream& os, const region_reader& read, const shape_t& shape, const dtype& t) {
  const std::size_t n = shape.size();
  const std::size_t itemsize = t.itemsize();
  const bool summarise = element_count(shape) > summary_threshold;
  std::vector<bool> elided(n, false);
  shape_t compact = shape;
  for (std::size_t d = 0; d < n; ++d) {
    elided[d] = summarise && shape[d] > 2 * edge_items;
    if (elided[d]) compact[d] = 2 * edge_items;
  }
  bytes values(static_cast<std::size_t>(element_count(compact)) * itemsize);
  // Read each corner: along an elided axis the first and the last edge_items indices.
  const index_t corners = index_t{1} << std::count(elided.begin(), elided.end(), true);
  for (index_t corner = 0; corner < corners; ++corner) {
    box part = box::whole(shape);
    shape_t origin(n, 0);
    int bit = 0;
    for (std::size_t d = 0; d < n; ++d) {
      if (!elided[d]) continue;
      const bool tail = (corner >> bit++) & 1;
      part.start[d] = tail ? shape[d] - edge_items : 0;
      part.stop[d] = part.start[d] + edge_items;
      origin[d] = tail ? edge_items : 0;
    }
    bytes piece(static_cast<std::size_t>(part.size()) * itemsize);
    read(part, piece);
    const shape_t extent = part.shape();
    copy_region(piece.data(), extent, shape_t(n, 0), values.data(), compact, origin, extent,
                itemsize);
  }
  os << numpy_str(values.data(), compact, t.kind, elided, edge_items) << "\n";
}

void print_json(std::ostream& os, const region_reader& read, const shape_t& shape, const dtype& t,
                index_t rows) {
  // Written to a temporary file first: a read that fails halfway must not leave half a JSON
  // document on stdout (a consumer would take it for a result or choke on it).
  static std::atomic<int> counter{0};
  const std::filesystem::path temp =
      std::filesystem::temp_directory_path() /
      ("chunkarr-json-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  struct remover {
    const std::filesystem::path& p;
    ~remover() {
      std::error_code ec;
      std::filesystem::remove(p, ec);
    }
  } cleanup{temp};
  std::fstream buffer(temp, std::ios::in | std::ios::out | std::ios::trunc | std::ios::binary);
  if (!buffer) throw_error<io_error>("cannot create ", temp.string(), " to hold the output");
  write_json(buffer, read, shape, t, rows);
  buffer.flush();
  if (!buffer) throw_error<io_error>("cannot write ", temp.string(), " (disk full?)");
  buffer.seekg(0);
  os << buffer.rdbuf();
}

}  // namespace chunkarr::cli
