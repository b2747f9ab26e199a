// NumPy's median and quantile on rows of values (numpy/lib/function_base.py: _median,
// _quantile and the _QuantileMethods table), in NumPy's arithmetic: the virtual index in
// float64, the two neighbours found by partitioning (std::nth_element, as numpy.partition),
// their difference in the input's type, the interpolation in float64 (`_lerp`, from the
// nearer end).
#include "exec/order.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>

#include "chunkarr/core/error.hpp"
#include "exec/kernels.hpp"

namespace chunkarr::detail {
namespace {

bool interpolates(quantile_method m) {
  switch (m) {
    case quantile_method::inverted_cdf:
    case quantile_method::closest_observation:
    case quantile_method::lower:
    case quantile_method::higher:
    case quantile_method::nearest:
      return false;
    default:
      return true;
  }
}

// Where q falls among n sorted values: one index (the discrete methods), or two neighbours
// and the weight of the upper (gamma), as NumPy computes them.
struct position {
  index_t lo = 0, hi = 0;
  double gamma = 0;
};

position locate(quantile_method m, double q, index_t count) {
  const auto n = static_cast<double>(count);
  const index_t last = count - 1;
  // Discrete: NumPy's _inverted_cdf and _closest_observation (_discret_interpolation_to_
  // boundaries), lower, higher, nearest.
  const auto discrete = [&](index_t i) {
    i = std::clamp<index_t>(i, 0, last);
    return position{i, i, 0};
  };
  switch (m) {
    case quantile_method::lower:
      return discrete(static_cast<index_t>(std::floor((n - 1) * q)));
    case quantile_method::higher:
      return discrete(static_cast<index_t>(std::ceil((n - 1) * q)));
    case quantile_method::nearest:  // np.around: halves to even
      return discrete(static_cast<index_t>(std::nearbyint((n - 1) * q)));
    case quantile_method::inverted_cdf: {
      const double index = n * q - 1;
      const double previous = std::floor(index);
      return discrete(static_cast<index_t>(index - previous == 0 ? previous : previous + 1));
    }
    case quantile_method::closest_observation: {
      const double index = n * q - 1 - 0.5;
      const double previous = std::floor(index);
      const bool even = std::fmod(std::fabs(previous), 2.0) == 0;
      return discrete(
          static_cast<index_t>(index - previous == 0 && even ? previous : previous + 1));
    }
    default:
      break;
  }
  double v = 0;
  const auto hyndman_fan = [&](double alpha, double beta) {
    return n * q + (alpha + q * (1 - alpha - beta)) - 1;
  };
  switch (m) {
    case quantile_method::averaged_inverted_cdf:
      v = n * q - 1;
      break;
    case quantile_method::interpolated_inverted_cdf:
      v = hyndman_fan(0, 1);
      break;
    case quantile_method::hazen:
      v = hyndman_fan(0.5, 0.5);
      break;
    case quantile_method::weibull:
      v = hyndman_fan(0, 0);
      break;
    case quantile_method::median_unbiased:
      v = hyndman_fan(1 / 3.0, 1 / 3.0);
      break;
    case quantile_method::normal_unbiased:
      v = hyndman_fan(3 / 8.0, 3 / 8.0);
      break;
    case quantile_method::midpoint:
      v = 0.5 * (std::floor((n - 1) * q) + std::ceil((n - 1) * q));
      break;
    default:  // linear
      v = (n - 1) * q;
  }
  // _get_indexes: past the last value both neighbours are the last (NumPy's index -1, which
  // is also what gamma is measured from); before the first, both are the first.
  position p;
  double previous = std::floor(v);
  p.lo = static_cast<index_t>(previous);
  p.hi = p.lo + 1;
  if (v >= n - 1) {
    p.lo = p.hi = last;
    previous = -1;
  }
  if (v < 0) {
    p.lo = p.hi = 0;
    previous = 0;
  }
  p.gamma = v - previous;
  if (m == quantile_method::averaged_inverted_cdf) p.gamma = p.gamma == 0 ? 0.5 : 1.0;
  if (m == quantile_method::midpoint) p.gamma = v - std::floor(v) == 0 ? 0.0 : 0.5;
  return p;
}

// b - a in T's arithmetic (wrapping for integers, as NumPy's subtract).
template <class T>
T difference(T b, T a) {
  if constexpr (std::is_same_v<T, bool>) {
    return b != a;  // never reached: booleans do not interpolate
  } else if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(b) - static_cast<U>(a)));
  } else {
    return b - a;
  }
}

template <class T, class Out>
void rows_of(const quantile_spec& spec, const T* values, index_t rows, index_t n, Out* out) {
  constexpr bool is_float = std::is_floating_point_v<T>;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::size_t nq = spec.median ? 1 : spec.q.size();
  const auto buffer = std::make_unique<T[]>(static_cast<std::size_t>(n));
  std::vector<position> where(nq);
  std::vector<index_t> ranks;
  for (index_t r = 0; r < rows; ++r) {
    const T* row = values + r * n;
    index_t count = n;
    bool has_nan = false;
    if constexpr (is_float) {
      count = 0;
      for (index_t i = 0; i < n; ++i) {
        if (std::isnan(row[i]))
          has_nan = true;
        else
          buffer[static_cast<std::size_t>(count++)] = row[i];
      }
    } else {
      std::copy(row, row + n, buffer.get());
    }
    const auto put = [&](std::size_t k, double v) { out[k * rows + r] = static_cast<Out>(v); };
    if ((has_nan && !spec.skip_nan) || count == 0) {
      for (std::size_t k = 0; k < nq; ++k) put(k, nan);
      continue;
    }
    T* first = buffer.get();
    T* end = first + count;
    if (spec.median) {
      const index_t hi = count / 2;
      std::nth_element(first, first + hi, end);
      const T b = first[hi];
      if (count % 2) {
        out[r] = static_cast<Out>(b);
      } else {
        const T a = *std::max_element(first, first + hi);
        // numpy.mean of the two: in the float type, float64 for integers.
        if constexpr (is_float)
          out[r] = static_cast<Out>(static_cast<T>(a + b) / static_cast<T>(2));
        else
          out[r] = static_cast<Out>((static_cast<double>(a) + static_cast<double>(b)) / 2);
      }
      continue;
    }
    ranks.clear();
    for (std::size_t k = 0; k < nq; ++k) {
      where[k] = locate(spec.method, spec.q[k], count);
      ranks.push_back(where[k].lo);
      ranks.push_back(where[k].hi);
    }
    std::sort(ranks.begin(), ranks.end());
    ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
    T* from = first;
    for (index_t rank : ranks) {  // each rank's value in place, as numpy.partition(kth)
      std::nth_element(from, first + rank, end);
      from = first + rank + 1;
    }
    for (std::size_t k = 0; k < nq; ++k) {
      const position& p = where[k];
      const T a = first[p.lo], b = first[p.hi];
      if (!interpolates(spec.method)) {
        out[k * rows + r] = static_cast<Out>(a);
        continue;
      }
      // _lerp: from the lower neighbour, or from the upper when gamma >= 0.5.
      const double diff = static_cast<double>(difference(b, a));
      const double v = p.gamma >= 0.5 ? static_cast<double>(b) - diff * (1 - p.gamma)
                                      : static_cast<double>(a) + diff * p.gamma;
      put(k, v);
    }
  }
}

}  // namespace

scalar_kind quantile_output(scalar_kind input, bool median, quantile_method method,
                            const char* op) {
  if (median) return input == scalar_kind::float32 ? scalar_kind::float32 : scalar_kind::float64;
  if (!interpolates(method)) return input;
  if (input == scalar_kind::bool_) {
    throw_error<type_error>(op, ": method '", name_of(method),
                            "' interpolates, which booleans cannot (NumPy refuses too); use "
                            "'lower', 'higher', 'nearest' or astype first");
  }
  return scalar_kind::float64;
}

void quantile_rows(const quantile_spec& spec, const std::byte* values, index_t rows, index_t n,
                   std::byte* out) {
  visit_kind(spec.input, [&](auto in_sample) {
    using T = decltype(in_sample);
    visit_kind(spec.output, [&](auto out_sample) {
      using Out = decltype(out_sample);
      if constexpr (!std::is_same_v<Out, T> && !std::is_floating_point_v<Out>) {
        throw std::logic_error("quantile: an output type of neither the input's nor a float's");
      } else {
        rows_of<T, Out>(spec, reinterpret_cast<const T*>(values), rows, n,
                        reinterpret_cast<Out*>(out));
      }
    });
  });
}

}  // namespace chunkarr::detail
