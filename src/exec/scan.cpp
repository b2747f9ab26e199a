// The scan kernels: running sums and products, and IIR filters as SciPy computes them.
//
// lfilter and sosfilt follow scipy.signal's loops operation for operation (the transposed
// direct form II, in double): this file is compiled without floating-point contraction, so a
// chunked filter gives SciPy's result on the whole array up to the last bits of its initial
// state (lfilter_zi, sosfilt_zi) — and bit for bit when the state starts at zero.
#include "exec/scan.hpp"

#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

namespace chunkarr::detail {
namespace {

constexpr index_t lanes_per_tile = 8;      // lanes filtered side by side
constexpr index_t samples_per_tile = 256;  // samples of a tile when lanes are rows

bool is_iir(scan_op op) {
  return op == scan_op::lfilter || op == scan_op::sosfilt;
}

// ---- running sums and products -------------------------------------------------------------

template <class A>
A add_wrapping(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return static_cast<A>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}

template <class A>
A multiply_wrapping(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return static_cast<A>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return a * b;
  }
}

template <scan_op Op, class T, class A>
void running(A* state, index_t outer, index_t length, index_t inner, const T* in, A* out,
             bool first) {
  constexpr bool product = Op == scan_op::cumprod || Op == scan_op::nancumprod;
  constexpr bool skip_nan =
      (Op == scan_op::nancumsum || Op == scan_op::nancumprod) && std::is_floating_point_v<T>;
  const auto value = [](T x) {
    if constexpr (skip_nan) {
      if (std::isnan(x)) return A(product ? 1 : 0);
    }
    return static_cast<A>(x);
  };
  for (index_t o = 0; o < outer; ++o) {
    A* s = state + o * inner;
    index_t n = 0;
    if (first && length > 0) {  // NumPy's accumulate starts from the first value itself
      const T* x = in + o * length * inner;
      A* y = out + o * length * inner;
      for (index_t j = 0; j < inner; ++j) y[j] = s[j] = value(x[j]);
      n = 1;
    }
    for (; n < length; ++n) {
      const T* x = in + (o * length + n) * inner;
      A* y = out + (o * length + n) * inner;
      for (index_t j = 0; j < inner; ++j) {
        const A v = value(x[j]);
        y[j] = s[j] = product ? multiply_wrapping(s[j], v) : add_wrapping(s[j], v);
      }
    }
  }
}

// The accumulator (and result) type of a running sum or product over T: NumPy's.
template <class T>
using accumulator_t =
    std::conditional_t<std::is_floating_point_v<T>, T,
                       std::conditional_t<std::is_same_v<T, bool> || std::is_signed_v<T>,
                                          std::int64_t, std::uint64_t>>;

// ---- IIR filters ---------------------------------------------------------------------------

// W lanes of a second-order-sections filter over `length` samples: x[n * stride + j] is lane
// j's sample n (filtered in place). `z` holds each section's two delays for all `lanes` lanes
// (z[(2s + k) * lanes + lane]); `lane0` is the first of these W.
template <index_t W>
[[gnu::always_inline]] inline void sos_lanes(const double* sos, std::size_t sections, double* z,
                                             index_t lanes, index_t lane0, double* x,
                                             index_t stride, index_t length) {
  constexpr std::size_t max_sections = 32;
  double z0[max_sections][W], z1[max_sections][W];
  for (std::size_t s = 0; s < sections; ++s) {
    for (index_t j = 0; j < W; ++j) {
      z0[s][j] = z[(2 * s) * lanes + lane0 + j];
      z1[s][j] = z[(2 * s + 1) * lanes + lane0 + j];
    }
  }
  for (index_t n = 0; n < length; ++n) {
    double cur[W];
    double* row = x + n * stride;
    for (index_t j = 0; j < W; ++j) cur[j] = row[j];
    for (std::size_t s = 0; s < sections; ++s) {
      const double* c = sos + 6 * s;
      const double b0 = c[0], b1 = c[1], b2 = c[2], a1 = c[4], a2 = c[5];
      for (index_t j = 0; j < W; ++j) {  // SciPy's _sosfilt, operation for operation
        const double next = b0 * cur[j] + z0[s][j];
        z0[s][j] = b1 * cur[j] - a1 * next + z1[s][j];
        z1[s][j] = b2 * cur[j] - a2 * next;
        cur[j] = next;
      }
    }
    for (index_t j = 0; j < W; ++j) row[j] = cur[j];
  }
  for (std::size_t s = 0; s < sections; ++s) {
    for (index_t j = 0; j < W; ++j) {
      z[(2 * s) * lanes + lane0 + j] = z0[s][j];
      z[(2 * s + 1) * lanes + lane0 + j] = z1[s][j];
    }
  }
}

// The same for a filter of any order (b and a each order + 1 long, a[0] = 1), state
// z[k * lanes + lane] for k < order: scipy.signal.lfilter's loop.
template <index_t W>
[[gnu::always_inline]] inline void lfilter_lanes(const double* b, const double* a,
                                                 std::size_t order, double* z, index_t lanes,
                                                 index_t lane0, double* x, index_t stride,
                                                 index_t length) {
  constexpr std::size_t max_order = 64;
  double d[max_order][W];
  for (std::size_t k = 0; k < order; ++k)
    for (index_t j = 0; j < W; ++j) d[k][j] = z[k * lanes + lane0 + j];
  for (index_t n = 0; n < length; ++n) {
    double* row = x + n * stride;
    for (index_t j = 0; j < W; ++j) {
      const double xn = row[j];
      if (order == 0) {
        row[j] = xn * b[0];
        continue;
      }
      const double yn = d[0][j] + b[0] * xn;
      for (std::size_t k = 0; k + 1 < order; ++k)
        d[k][j] = d[k + 1][j] + xn * b[k + 1] - yn * a[k + 1];
      d[order - 1][j] = xn * b[order] - yn * a[order];
      row[j] = yn;
    }
  }
  for (std::size_t k = 0; k < order; ++k)
    for (index_t j = 0; j < W; ++j) z[k * lanes + lane0 + j] = d[k][j];
}

// The kernels for 8 lanes and for 1, each compiled for AVX2 (4 doubles per operation) and
// for the baseline (2), chosen when the program starts.
#define CHUNKARR_FILTER_ENTRY(W)                                                                 \
  __attribute__((target_clones("avx2", "default"))) void filter_lanes_##W(                       \
      const scan_payload& p, double* z, index_t lanes, index_t lane0, double* x, index_t stride, \
      index_t length) {                                                                          \
    if (p.op == scan_op::sosfilt) {                                                              \
      sos_lanes<W>(p.coef.data(), p.order, z, lanes, lane0, x, stride, length);                  \
    } else {                                                                                     \
      lfilter_lanes<W>(p.coef.data(), p.coef.data() + p.order + 1, p.order, z, lanes, lane0, x,  \
                       stride, length);                                                          \
    }                                                                                            \
  }
CHUNKARR_FILTER_ENTRY(8)
CHUNKARR_FILTER_ENTRY(1)
#undef CHUNKARR_FILTER_ENTRY

// Filters W lanes in place with the node's filter.
template <index_t W>
void filter_lanes(const scan_payload& p, double* z, index_t lanes, index_t lane0, double* x,
                  index_t stride, index_t length) {
  static_assert(W == 8 || W == 1);
  if constexpr (W == 8)
    filter_lanes_8(p, z, lanes, lane0, x, stride, length);
  else
    filter_lanes_1(p, z, lanes, lane0, x, stride, length);
}

std::size_t delays(const scan_payload& p) {
  return p.op == scan_op::sosfilt ? 2 * p.order : p.order;
}

void filter_step(const scan_payload& p, double* z, index_t outer, index_t length, index_t inner,
                 double* values, bool first) {
  const index_t lanes = outer * inner;
  const std::size_t k = delays(p);
  // Sample n of a lane in the order the filter takes them sits at position at(n).
  const auto at = [&](index_t n) { return p.reverse ? length - 1 - n : n; };
  if (first) {  // zeros, or zi scaled by each lane's first sample
    for (std::size_t i = 0; i < k; ++i) {
      for (index_t lane = 0; lane < lanes; ++lane) {
        const double x0 = p.zi.empty() || length == 0
                              ? 0.0
                              : values[((lane / inner) * length + at(0)) * inner + lane % inner];
        z[i * static_cast<std::size_t>(lanes) + lane] = p.zi.empty() ? 0.0 : p.zi[i] * x0;
      }
    }
  }
  if (length == 0) return;
  if (inner > 1) {  // lanes are contiguous: filter them in place, eight at a time
    const index_t stride = p.reverse ? -inner : inner;
    for (index_t o = 0; o < outer; ++o) {
      double* block = values + (o * length + at(0)) * inner;
      index_t j = 0;
      for (; j + lanes_per_tile <= inner; j += lanes_per_tile)
        filter_lanes<lanes_per_tile>(p, z, lanes, o * inner + j, block + j, stride, length);
      for (; j < inner; ++j) filter_lanes<1>(p, z, lanes, o * inner + j, block + j, stride, length);
    }
    return;
  }
  // Lanes are rows: eight rows at a time through a transposed tile.
  std::vector<double> tile(static_cast<std::size_t>(lanes_per_tile * samples_per_tile));
  index_t o = 0;
  for (; o + lanes_per_tile <= outer; o += lanes_per_tile) {
    for (index_t n0 = 0; n0 < length; n0 += samples_per_tile) {
      const index_t m = std::min(samples_per_tile, length - n0);
      for (index_t w = 0; w < lanes_per_tile; ++w) {
        const double* row = values + (o + w) * length;
        for (index_t t = 0; t < m; ++t)
          tile[static_cast<std::size_t>(t * lanes_per_tile + w)] = row[at(n0 + t)];
      }
      filter_lanes<lanes_per_tile>(p, z, lanes, o, tile.data(), lanes_per_tile, m);
      for (index_t w = 0; w < lanes_per_tile; ++w) {
        double* row = values + (o + w) * length;
        for (index_t t = 0; t < m; ++t)
          row[at(n0 + t)] = tile[static_cast<std::size_t>(t * lanes_per_tile + w)];
      }
    }
  }
  for (; o < outer; ++o) {
    filter_lanes<1>(p, z, lanes, o, values + o * length + at(0), p.reverse ? -1 : 1, length);
  }
}

}  // namespace

void scanner::to_double(const std::byte* in, index_t count, double* out) const {
  visit_kind(n_.inputs[0]->dtype.kind, [&](auto sample) {
    using T = decltype(sample);
    const T* x = reinterpret_cast<const T*>(in);
    for (index_t i = 0; i < count; ++i) out[i] = static_cast<double>(x[i]);
  });
}

void scanner::forward(std::byte* state, index_t outer, index_t length, index_t inner,
                      double* values, bool first) const {
  scan_payload p = n_.scan;
  p.reverse = false;
  filter_step(p, reinterpret_cast<double*>(state), outer, length, inner, values, first);
}

void scanner::backward(std::byte* state, index_t outer, index_t length, index_t inner,
                       double* values, bool first) const {
  scan_payload p = n_.scan;
  p.reverse = true;
  filter_step(p, reinterpret_cast<double*>(state), outer, length, inner, values, first);
}

box scan_input_box(const node& scan, const box& step) {
  if (!scan.scan.both_ways) return step;
  const auto axis = static_cast<std::size_t>(scan.axis);
  const index_t edge = scan.scan.edge;
  box in = step;
  in.start[axis] = step.start[axis] == 0 ? 0 : step.start[axis] + edge;
  in.stop[axis] =
      step.stop[axis] == scan.shape[axis] ? scan.shape[axis] + 2 * edge : step.stop[axis] + edge;
  return in;
}

std::size_t scanner::state_bytes() const {
  if (is_iir(n_.scan.op)) return delays(n_.scan) * sizeof(double);
  return n_.dtype.itemsize();
}

void scanner::step(std::byte* state, index_t outer, index_t length, index_t inner,
                   const std::byte* in, std::byte* out, bool first) const {
  const scan_payload& p = n_.scan;
  const scalar_kind from = n_.inputs[0]->dtype.kind;
  const index_t count = outer * length * inner;
  if (is_iir(p.op)) {
    auto* values = reinterpret_cast<double*>(out);
    to_double(in, count, values);
    filter_step(p, reinterpret_cast<double*>(state), outer, length, inner, values, first);
    return;
  }
  visit_kind(from, [&](auto sample) {
    using T = decltype(sample);
    using A = accumulator_t<T>;
    auto* s = reinterpret_cast<A*>(state);
    const T* x = reinterpret_cast<const T*>(in);
    A* y = reinterpret_cast<A*>(out);
    switch (p.op) {
      case scan_op::cumsum:
        return running<scan_op::cumsum>(s, outer, length, inner, x, y, first);
      case scan_op::cumprod:
        return running<scan_op::cumprod>(s, outer, length, inner, x, y, first);
      case scan_op::nancumsum:
        return running<scan_op::nancumsum>(s, outer, length, inner, x, y, first);
      case scan_op::nancumprod:
        return running<scan_op::nancumprod>(s, outer, length, inner, x, y, first);
      default:
        return;
    }
  });
}

}  // namespace chunkarr::detail
