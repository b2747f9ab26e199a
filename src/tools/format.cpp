#include "tools/format.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

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

}  // namespace chunkarr::cli
