// Scans and IIR filters: argument checks and the scan nodes (kernels: src/exec/scan.cpp);
// diff, gradient and filtfilt's padding built from slices; Butterworth design as scipy.signal
// does it (buttap, the band transforms and the bilinear transform in zeros-poles-gain form,
// then zpk2sos's pairing).
#include "chunkarr/expr/signal.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <numeric>

#include "chunkarr/core/error.hpp"
#include "expr/node.hpp"

namespace chunkarr {

using detail::node;
using detail::scan_op;

namespace {

constexpr std::size_t max_filter_order = 64;  // lfilter's delays (src/exec/scan.cpp)
constexpr std::size_t max_sections = 32;      // sosfilt's sections

// `a` along `axis` from start to stop (Python slice bounds).
array along(const array& a, int axis, std::optional<index_t> start, std::optional<index_t> stop,
            std::optional<index_t> step = std::nullopt) {
  std::vector<index_spec> subs(a.ndim(), all);
  subs[static_cast<std::size_t>(axis)] = range(start, stop, step);
  return a(subs);
}

// The scan's chunks: regular, the input's longest chunk along each axis (a concatenation's
// short pieces do not make short steps).
chunks_t scan_chunks(const array& x) {
  shape_t c;
  for (const axis_chunks& axis : x.chunks()) c.push_back(std::max<index_t>(axis.longest(), 1));
  return detail::regular_chunks(x.shape(), c);
}

array scan_node(const array& x, int axis, dtype t, detail::scan_payload payload) {
  auto n = std::make_shared<node>();
  n->kind = detail::node_kind::scan;
  n->shape = x.shape();
  n->dtype = t;
  n->chunks = scan_chunks(x);
  n->inputs = {x.node()};
  n->axis = axis;
  n->scan = std::move(payload);
  return array(std::move(n));
}

array running(const char* name, scan_op op, const array& a, std::optional<int> axis) {
  detail::node_of(a);
  const array x = axis ? a : ravel(a);
  const int d = detail::normalize_axis(axis.value_or(0), x.ndim(), name);
  const dtype in = x.dtype();
  dtype out = make_dtype(in.kind);
  if (in.is_bool() || in.is_signed_int()) out = make_dtype(scalar_kind::int64);
  if (in.is_unsigned_int()) out = make_dtype(scalar_kind::uint64);
  detail::scan_payload p;
  p.op = op;
  return scan_node(x, d, out, std::move(p));
}

void require_finite(const char* name, const char* what, const std::vector<double>& values) {
  for (double v : values) {
    if (!std::isfinite(v)) throw_error<value_error>(name, ": ", what, " holds ", v);
  }
}

// b and a divided by a[0] and padded with zeros to one length (scipy's lfilter).
std::pair<std::vector<double>, std::vector<double>> normalised(const char* name,
                                                               std::vector<double> b,
                                                               std::vector<double> a) {
  if (b.empty() || a.empty()) throw_error<value_error>(name, ": b and a must not be empty");
  require_finite(name, "b", b);
  require_finite(name, "a", a);
  if (a[0] == 0) throw_error<value_error>(name, ": a[0] must be nonzero");
  const std::size_t n = std::max(a.size(), b.size());
  if (n - 1 > max_filter_order) {
    throw_error<value_error>(name, ": a filter of order ", n - 1, " (at most ", max_filter_order,
                             "; use second-order sections, sosfilt)");
  }
  const double a0 = a[0];
  if (a0 != 1) {
    for (double& v : b) v /= a0;
    for (double& v : a) v /= a0;
  }
  b.resize(n, 0.0);
  a.resize(n, 0.0);
  return {std::move(b), std::move(a)};
}

void check_sos(const char* name, const sos_t& sos) {
  if (sos.empty()) throw_error<value_error>(name, ": sos has no sections");
  if (sos.size() > max_sections) {
    throw_error<value_error>(name, ": ", sos.size(), " sections (at most ", max_sections, ")");
  }
  for (std::size_t s = 0; s < sos.size(); ++s) {
    require_finite(name, "sos", {sos[s].begin(), sos[s].end()});
    if (sos[s][3] != 1) {
      throw_error<value_error>(name, ": sos[", s, ", 3] is ", sos[s][3],
                               " (every section's a0 must be 1)");
    }
  }
}

detail::scan_payload lfilter_payload(const std::vector<double>& b, const std::vector<double>& a) {
  detail::scan_payload p;
  p.op = scan_op::lfilter;
  p.order = b.size() - 1;
  p.coef = b;
  p.coef.insert(p.coef.end(), a.begin(), a.end());
  return p;
}

detail::scan_payload sos_payload(const sos_t& sos) {
  detail::scan_payload p;
  p.op = scan_op::sosfilt;
  p.order = sos.size();
  for (const auto& row : sos) p.coef.insert(p.coef.end(), row.begin(), row.end());
  return p;
}

array filter_node(const char* name, const array& x, int axis, detail::scan_payload p) {
  detail::node_of(x);
  const int d = detail::normalize_axis(axis, x.ndim(), name);
  return scan_node(x, d, make_dtype(scalar_kind::float64), std::move(p));
}

// scipy.signal's odd_ext, even_ext and const_ext of `x` by `edge` along `axis`.
array extended(const array& x, int axis, index_t edge, pad_type type) {
  if (edge == 0 || type == pad_type::none) return x;
  const array first = along(x, axis, 0, 1), last = along(x, axis, -1, std::nullopt);
  shape_t wide = x.shape();
  wide[static_cast<std::size_t>(axis)] = edge;
  array left, right;
  switch (type) {
    case pad_type::odd:
      left = 2 * first - along(x, axis, edge, 0, -1);
      right = 2 * last - along(x, axis, -2, -(edge + 2), -1);
      break;
    case pad_type::even:
      left = along(x, axis, edge, 0, -1);
      right = along(x, axis, -2, -(edge + 2), -1);
      break;
    case pad_type::constant:
      left = broadcast_to(first, wide);
      right = broadcast_to(last, wide);
      break;
    case pad_type::none:
      break;
  }
  return concatenate({left, x, right}, axis);
}

// filtfilt and sosfiltfilt: forward from zi · x[0], backward from zi · y[-1], then the
// extension cut off.
array forward_backward(const char* name, const array& x, int axis, index_t ntaps, pad_type type,
                       std::optional<index_t> padlen, detail::scan_payload p,
                       std::vector<double> zi) {
  detail::node_of(x);
  const int d = detail::normalize_axis(axis, x.ndim(), name);
  const index_t edge = type == pad_type::none ? 0 : padlen.value_or(3 * ntaps);
  if (edge < 0) throw_error<value_error>(name, ": padlen ", edge, " is negative");
  const index_t length = x.shape()[static_cast<std::size_t>(d)];
  if (length <= edge) {
    throw_error<value_error>(name, ": the length of the input along axis ", d, " (", length,
                             ") must be greater than padlen, which is ", edge);
  }
  p.zi = std::move(zi);
  p.both_ways = true;
  p.edge = edge;
  const array ext = extended(x, d, edge, type);
  auto n = std::make_shared<node>();
  n->kind = detail::node_kind::scan;
  n->shape = x.shape();
  n->dtype = make_dtype(scalar_kind::float64);
  n->chunks = scan_chunks(x);
  n->inputs = {ext.node()};
  n->axis = d;
  n->scan = std::move(p);
  return array(std::move(n));
}

// ---- Butterworth design (scipy.signal.iirfilter with ftype 'butter') ------------------------

using complex_t = std::complex<double>;

struct zpk {
  std::vector<complex_t> z, p;
  double k = 1;
};

// NumPy's complex division (Smith's method), which scipy's design steps go through: the
// compiler's would round differently.
complex_t divide(complex_t a, complex_t b) {
  const double br = b.real(), bi = b.imag();
  if (std::abs(br) >= std::abs(bi)) {
    const double rat = bi / br, scl = 1.0 / (br + bi * rat);
    return {(a.real() + a.imag() * rat) * scl, (a.imag() - a.real() * rat) * scl};
  }
  const double rat = br / bi, scl = 1.0 / (bi + br * rat);
  return {(a.real() * rat + a.imag()) * scl, (a.imag() * rat - a.real()) * scl};
}

// numpy.prod of `v` (1 when empty).
complex_t product(const std::vector<complex_t>& v) {
  if (v.empty()) return 1;
  complex_t r = v.front();
  for (std::size_t i = 1; i < v.size(); ++i) r *= v[i];
  return r;
}

// Each element mapped by f.
template <class F>
std::vector<complex_t> mapped(const std::vector<complex_t>& v, F f) {
  std::vector<complex_t> out;
  for (const complex_t& x : v) out.push_back(f(x));
  return out;
}

// real(prod(-z) / prod(-p)): the gain the high-pass and band-stop transforms multiply in.
double inverted_gain(const std::vector<complex_t>& z, const std::vector<complex_t>& p) {
  const auto negated = [](complex_t x) { return -x; };
  return divide(product(mapped(z, negated)), product(mapped(p, negated))).real();
}

bool is_real(complex_t v) {
  return v.imag() == 0;
}

// numpy.poly of up to two roots (a conjugate pair gives real coefficients).
std::vector<double> poly(const std::vector<complex_t>& roots) {
  std::vector<complex_t> c{1};
  for (const complex_t& r : roots) {
    std::vector<complex_t> next(c.size() + 1, 0);
    for (std::size_t i = 0; i < c.size(); ++i) {
      next[i] += c[i];
      next[i + 1] -= c[i] * r;
    }
    c = std::move(next);
  }
  std::vector<double> out;
  for (const complex_t& v : c) out.push_back(v.real());
  return out;
}

// scipy's _single_zpksos: one section from up to two zeros and two poles (gain 1).
std::array<double, 6> single_section(const std::vector<complex_t>& z,
                                     const std::vector<complex_t>& p) {
  std::array<double, 6> sos{};
  const std::vector<double> b = poly(z), a = poly(p);
  std::copy(b.begin(), b.end(), sos.begin() + static_cast<std::ptrdiff_t>(3 - b.size()));
  std::copy(a.begin(), a.end(), sos.begin() + static_cast<std::ptrdiff_t>(6 - a.size()));
  return sos;
}

// scipy's _cplxreal: the conjugate pairs as one value each (the average of the two, positive
// imaginary part), by real part and then |imaginary| part, then the real values sorted.
std::vector<complex_t> conjugate_halves_then_reals(std::vector<complex_t> v) {
  const auto by_real = [](const complex_t& a, const complex_t& b) {
    return a.real() != b.real() ? a.real() < b.real() : std::abs(a.imag()) < std::abs(b.imag());
  };
  std::stable_sort(v.begin(), v.end(), by_real);
  const double eps = 100 * std::numeric_limits<double>::epsilon();
  std::vector<complex_t> positive, negative, out;
  std::vector<double> reals;
  for (const complex_t& x : v) {
    if (std::abs(x.imag()) <= eps * std::abs(x))
      reals.push_back(x.real());
    else
      (x.imag() > 0 ? positive : negative).push_back(x);
  }
  if (positive.size() != negative.size())
    throw_error<value_error>("zpk2sos: a complex value has no matching conjugate");
  // Runs of (nearly) one real part, each sorted by |imaginary| part.
  const auto by_imag = [](const complex_t& a, const complex_t& b) {
    return std::abs(a.imag()) < std::abs(b.imag());
  };
  for (std::size_t start = 0; start < positive.size();) {
    std::size_t stop = start + 1;
    while (stop < positive.size() &&
           positive[stop].real() - positive[stop - 1].real() <= eps * std::abs(positive[stop - 1]))
      ++stop;
    const auto from = static_cast<std::ptrdiff_t>(start), to = static_cast<std::ptrdiff_t>(stop);
    std::stable_sort(positive.begin() + from, positive.begin() + to, by_imag);
    std::stable_sort(negative.begin() + from, negative.begin() + to, by_imag);
    start = stop;
  }
  for (std::size_t i = 0; i < positive.size(); ++i)
    out.push_back((positive[i] + std::conj(negative[i])) / 2.0);
  for (double r : reals) out.emplace_back(r, 0.0);
  return out;
}

// scipy's _nearest_real_complex_idx: the element of `from` nearest `to` (of the kind asked).
std::size_t nearest(const std::vector<complex_t>& from, complex_t to, int which) {
  std::vector<std::size_t> order(from.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::abs(from[a] - to) < std::abs(from[b] - to);
  });
  for (std::size_t i : order) {
    if (which == 0 || (which == 1) == is_real(from[i])) return i;
  }
  throw std::logic_error("zpk2sos: no zero of the kind asked");
}

// scipy's idx_worst for digital filters: the pole nearest the unit circle.
std::size_t worst(const std::vector<complex_t>& p, const std::vector<std::size_t>& among) {
  std::size_t best = among.front();
  for (std::size_t i : among) {
    if (std::abs(1 - std::abs(p[i])) < std::abs(1 - std::abs(p[best]))) best = i;
  }
  return best;
}

template <class T>
T take_at(std::vector<T>& v, std::size_t i) {
  T x = v[i];
  v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
  return x;
}

// scipy.signal.zpk2sos with pairing 'nearest' (digital).
sos_t zpk2sos(zpk f) {
  std::vector<complex_t> z = f.z, p = f.p;
  if (z.empty() && p.empty()) return {{f.k, 0, 0, 1, 0, 0}};
  while (p.size() < z.size()) p.push_back(0);
  while (z.size() < p.size()) z.push_back(0);
  const std::size_t sections = (p.size() + 1) / 2;
  if (p.size() % 2 == 1) {
    p.push_back(0);
    z.push_back(0);
  }
  z = conjugate_halves_then_reals(z);
  p = conjugate_halves_then_reals(p);
  sos_t sos(sections);
  const auto reals_in = [](const std::vector<complex_t>& v) {
    return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), is_real));
  };
  for (std::size_t si = sections; si-- > 0;) {
    std::vector<std::size_t> all_p(p.size());
    std::iota(all_p.begin(), all_p.end(), 0);
    const complex_t p1 = take_at(p, worst(p, all_p));
    if (is_real(p1) && reals_in(p) == 0) {  // the last real pole
      const complex_t z1 = take_at(z, nearest(z, p1, 1));
      sos[si] = single_section({z1, 0}, {p1, 0});
    } else if (p.size() + 1 == z.size() && !is_real(p1) && reals_in(p) == 1 &&
               reals_in(z) == 1) {  // one real pole and one real zero left: a complex zero
      const complex_t z1 = take_at(z, nearest(z, p1, 2));
      sos[si] = single_section({z1, std::conj(z1)}, {p1, std::conj(p1)});
    } else {
      complex_t p2;
      if (is_real(p1)) {
        std::vector<std::size_t> real_p;
        for (std::size_t i = 0; i < p.size(); ++i)
          if (is_real(p[i])) real_p.push_back(i);
        p2 = take_at(p, worst(p, real_p));
      } else {
        p2 = std::conj(p1);
      }
      if (z.empty()) {
        sos[si] = single_section({}, {p1, p2});
        continue;
      }
      const complex_t z1 = take_at(z, nearest(z, p1, 0));
      if (!is_real(z1)) {
        sos[si] = single_section({z1, std::conj(z1)}, {p1, p2});
      } else if (!z.empty()) {
        const complex_t z2 = take_at(z, nearest(z, p1, 1));
        sos[si] = single_section({z1, z2}, {p1, p2});
      } else {
        sos[si] = single_section({z1}, {p1, p2});
      }
    }
  }
  for (std::size_t i = 0; i < 3; ++i) sos[0][i] *= f.k;
  return sos;
}

zpk butter_zpk(const char* name, int order, std::vector<double> wn, filter_band band,
               std::optional<double> fs) {
  if (order < 1 || order > 32) throw_error<value_error>(name, ": order ", order, " (1 to 32)");
  const bool two = band == filter_band::bandpass || band == filter_band::bandstop;
  if (wn.size() != (two ? 2u : 1u)) {
    throw_error<value_error>(name, ": a ", two ? "band-pass or band-stop" : "low- or high-pass",
                             " filter takes ", two ? 2 : 1, " critical frequencies, not ",
                             wn.size());
  }
  if (fs) {
    if (!(*fs > 0) || !std::isfinite(*fs)) throw_error<value_error>(name, ": fs ", *fs);
    for (double& w : wn) w = 2 * w / *fs;
  }
  for (double w : wn) {
    if (!(w > 0 && w < 1)) {
      throw_error<value_error>(name, ": digital filter critical frequencies must be 0 < Wn < 1",
                               fs ? " (relative to fs/2)" : "", ", not ", w);
    }
  }
  if (two && !(wn[0] < wn[1])) throw_error<value_error>(name, ": Wn[0] must be less than Wn[1]");
  // buttap: poles on the left half of the unit circle.
  zpk f;
  for (int m = -order + 1; m < order; m += 2)
    f.p.push_back(-std::exp(complex_t(0, std::numbers::pi * m / (2.0 * order))));
  const double fs2 = 2.0 * 2.0;  // the bilinear transform at fs = 2 (Nyquist 1)
  std::vector<double> warped;
  for (double w : wn) warped.push_back(fs2 * std::tan(std::numbers::pi * w / 2.0));
  const auto degree = static_cast<int>(f.p.size() - f.z.size());
  switch (band) {
    case filter_band::lowpass:
      for (auto& v : f.z) v *= warped[0];
      for (auto& v : f.p) v *= warped[0];
      f.k *= std::pow(warped[0], degree);
      break;
    case filter_band::highpass: {
      const double k = inverted_gain(f.z, f.p);
      for (auto& v : f.z) v = divide(warped[0], v);
      for (auto& v : f.p) v = divide(warped[0], v);
      f.z.insert(f.z.end(), static_cast<std::size_t>(degree), 0);
      f.k *= k;
      break;
    }
    case filter_band::bandpass:
    case filter_band::bandstop: {
      const double bw = warped[1] - warped[0], wo = std::sqrt(warped[0] * warped[1]);
      const bool pass = band == filter_band::bandpass;
      const double k = pass ? std::pow(bw, degree) : inverted_gain(f.z, f.p);
      const auto split = [&](const std::vector<complex_t>& v) {
        std::vector<complex_t> lo, hi;
        for (const complex_t& x : v) {
          const complex_t s = pass ? x * bw / 2.0 : divide(bw / 2.0, x);
          const complex_t r = std::sqrt(s * s - wo * wo);
          lo.push_back(s + r);
          hi.push_back(s - r);
        }
        lo.insert(lo.end(), hi.begin(), hi.end());
        return lo;
      };
      f.z = split(f.z);
      f.p = split(f.p);
      if (pass) {
        f.z.insert(f.z.end(), static_cast<std::size_t>(degree), 0);
      } else {
        f.z.insert(f.z.end(), static_cast<std::size_t>(degree), complex_t(0, wo));
        f.z.insert(f.z.end(), static_cast<std::size_t>(degree), complex_t(0, -wo));
      }
      f.k *= k;
      break;
    }
  }
  // bilinear_zpk at fs = 2.
  const auto bilinear_degree = static_cast<std::size_t>(f.p.size() - f.z.size());
  const auto from_fs2 = [&](complex_t x) { return fs2 - x; };
  const double k = divide(product(mapped(f.z, from_fs2)), product(mapped(f.p, from_fs2))).real();
  for (auto& v : f.z) v = divide(fs2 + v, fs2 - v);
  for (auto& v : f.p) v = divide(fs2 + v, fs2 - v);
  f.z.insert(f.z.end(), bilinear_degree, -1.0);
  f.k *= k;
  return f;
}

// Solves the small dense system m · x = r (n ≤ 64) by Gaussian elimination with partial
// pivoting (LAPACK's getrf/getrs, which numpy.linalg.solve calls, pivot the same way).
std::vector<double> solve(std::vector<double> m, std::vector<double> r, std::size_t n) {
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t pivot = c;
    for (std::size_t i = c + 1; i < n; ++i)
      if (std::abs(m[i * n + c]) > std::abs(m[pivot * n + c])) pivot = i;
    if (m[pivot * n + c] == 0) throw_error<value_error>("lfilter_zi: the system is singular");
    if (pivot != c) {
      for (std::size_t j = 0; j < n; ++j) std::swap(m[c * n + j], m[pivot * n + j]);
      std::swap(r[c], r[pivot]);
    }
    for (std::size_t i = c + 1; i < n; ++i) {
      const double f = m[i * n + c] * (1.0 / m[c * n + c]);
      for (std::size_t j = c; j < n; ++j) m[i * n + j] -= f * m[c * n + j];
      r[i] -= f * r[c];
    }
  }
  std::vector<double> x(n);
  for (std::size_t i = n; i-- > 0;) {
    double s = r[i];
    for (std::size_t j = i + 1; j < n; ++j) s -= m[i * n + j] * x[j];
    x[i] = s / m[i * n + i];
  }
  return x;
}

}  // namespace

array cumsum(const array& a, std::optional<int> axis) {
  return running("cumsum", scan_op::cumsum, a, axis);
}
array cumprod(const array& a, std::optional<int> axis) {
  return running("cumprod", scan_op::cumprod, a, axis);
}
array nancumsum(const array& a, std::optional<int> axis) {
  return running("nancumsum", scan_op::nancumsum, a, axis);
}
array nancumprod(const array& a, std::optional<int> axis) {
  return running("nancumprod", scan_op::nancumprod, a, axis);
}

array diff(const array& a, int n, int axis) {
  detail::node_of(a);
  if (n < 0) throw_error<value_error>("diff: order must be non-negative but got ", n);
  const int d = detail::normalize_axis(axis, a.ndim(), "diff");
  array out = a;
  for (int i = 0; i < n && out.shape()[static_cast<std::size_t>(d)] > 0; ++i) {
    const array later = along(out, d, 1, std::nullopt), earlier = along(out, d, 0, -1);
    out = out.dtype().is_bool() ? later != earlier : later - earlier;
  }
  return out;
}

array gradient(const array& a, int axis, double spacing) {
  detail::node_of(a);
  const int d = detail::normalize_axis(axis, a.ndim(), "gradient");
  if (a.shape()[static_cast<std::size_t>(d)] < 2) {
    throw_error<value_error>("gradient: shape ", to_string(a.shape()),
                             ": each axis needs at least 2 elements along axis ", d);
  }
  if (!(spacing != 0) || !std::isfinite(spacing))
    throw_error<value_error>("gradient: spacing ", spacing);
  const array x = a.dtype().is_float() ? a : a.astype(make_dtype(scalar_kind::float64));
  // NumPy: (f[2:] - f[:-2]) / (2h) inside, (f[1] - f[0]) / h and (f[-1] - f[-2]) / h at the ends.
  const array first = (along(x, d, 1, 2) - along(x, d, 0, 1)) / spacing;
  const array inside = (along(x, d, 2, std::nullopt) - along(x, d, 0, -2)) / (2.0 * spacing);
  const array last = (along(x, d, -1, std::nullopt) - along(x, d, -2, -1)) / spacing;
  return concatenate({first, inside, last}, d);
}

array lfilter(std::vector<double> b, std::vector<double> a, const array& x, int axis) {
  const auto [bn, an] = normalised("lfilter", std::move(b), std::move(a));
  return filter_node("lfilter", x, axis, lfilter_payload(bn, an));
}

array sosfilt(const sos_t& sos, const array& x, int axis) {
  check_sos("sosfilt", sos);
  return filter_node("sosfilt", x, axis, sos_payload(sos));
}

array filtfilt(std::vector<double> b, std::vector<double> a, const array& x, int axis,
               pad_type padtype, std::optional<index_t> padlen) {
  const auto ntaps = static_cast<index_t>(std::max(a.size(), b.size()));
  const auto [bn, an] = normalised("filtfilt", std::move(b), std::move(a));
  return forward_backward("filtfilt", x, axis, ntaps, padtype, padlen, lfilter_payload(bn, an),
                          lfilter_zi(bn, an));
}

array sosfiltfilt(const sos_t& sos, const array& x, int axis, pad_type padtype,
                  std::optional<index_t> padlen) {
  check_sos("sosfiltfilt", sos);
  // scipy: 2 · sections + 1 taps, less the trailing zero coefficients both b and a share.
  index_t zero_b = 0, zero_a = 0;
  for (const auto& row : sos) {
    zero_b += row[2] == 0;
    zero_a += row[5] == 0;
  }
  const index_t ntaps = 2 * static_cast<index_t>(sos.size()) + 1 - std::min(zero_b, zero_a);
  std::vector<double> zi;
  for (const auto& pair : sosfilt_zi(sos)) zi.insert(zi.end(), pair.begin(), pair.end());
  return forward_backward("sosfiltfilt", x, axis, ntaps, padtype, padlen, sos_payload(sos),
                          std::move(zi));
}

std::vector<double> lfilter_zi(std::vector<double> b, std::vector<double> a) {
  while (a.size() > 1 && a[0] == 0) a.erase(a.begin());
  auto [bn, an] = normalised("lfilter_zi", std::move(b), std::move(a));
  const std::size_t n = bn.size() - 1;
  if (n == 0) return {};
  // (I - companion(a).T) zi = b[1:] - a[1:] b[0]
  std::vector<double> m(n * n, 0.0), r(n);
  for (std::size_t i = 0; i < n; ++i) {
    m[i * n + i] = 1;
    m[i * n + 0] += an[i + 1];  // companion(a).T's first column is -a[1:]
    if (i + 1 < n) m[i * n + i + 1] -= 1;
    r[i] = bn[i + 1] - an[i + 1] * bn[0];
  }
  return solve(std::move(m), std::move(r), n);
}

std::vector<std::array<double, 2>> sosfilt_zi(const sos_t& sos) {
  check_sos("sosfilt_zi", sos);
  std::vector<std::array<double, 2>> zi;
  double scale = 1.0;
  for (const auto& row : sos) {
    const std::vector<double> b(row.begin(), row.begin() + 3), a(row.begin() + 3, row.end());
    const std::vector<double> z = lfilter_zi(b, a);
    zi.push_back({scale * z[0], scale * z[1]});
    scale *= (b[0] + b[1] + b[2]) / (a[0] + a[1] + a[2]);
  }
  return zi;
}

sos_t butter(int order, std::vector<double> cutoff, filter_band band, std::optional<double> fs) {
  return zpk2sos(butter_zpk("butter", order, std::move(cutoff), band, fs));
}

std::pair<std::vector<double>, std::vector<double>> butter_ba(int order, std::vector<double> cutoff,
                                                              filter_band band,
                                                              std::optional<double> fs) {
  const zpk f = butter_zpk("butter", order, std::move(cutoff), band, fs);
  std::vector<double> b = poly(f.z), a = poly(f.p);
  for (double& v : b) v *= f.k;
  return {std::move(b), std::move(a)};
}

}  // namespace chunkarr
