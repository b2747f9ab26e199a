// scipy.ndimage's filters as blocks nodes: the input padded along the filter's axis by the
// window's halo in the filter's mode, then a window filter per chunk (src/exec/blocks.cpp).
#include "chunkarr/expr/filters.hpp"

#include <cmath>

#include "chunkarr/core/error.hpp"
#include "expr/node.hpp"

namespace chunkarr {

using detail::node;
using detail::window_op;

namespace {

// numpy's pairwise summation (np.sum of a float64 array), which the Gaussian's normalisation
// goes through: the same sum, bit for bit.
double pairwise_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += a[i];
    return s;
  }
  if (n <= 128) {
    double r[8];
    for (std::size_t j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - n % 8; i += 8)
      for (std::size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) s += a[i];
    return s;
  }
  std::size_t half = n / 2;
  half -= half % 8;
  return pairwise_sum(a, half) + pairwise_sum(a + half, n - half);
}

// The window filter `op` of a window from `before` elements before each output to `after`
// after it, along `axis`.
array window(const char* name, const array& a, int axis, window_op op, index_t before,
             index_t after, filter_mode mode, double cval, std::vector<double> weights = {},
             index_t rank = 0) {
  detail::node_of(a);
  const int d = detail::normalize_axis(axis, a.ndim(), name);
  if (a.dtype().is_bool() && op != window_op::minimum && op != window_op::maximum &&
      op != window_op::median)
    throw_error<type_error>(name, ": bool arrays are not supported (astype them first)");
  if (!std::isfinite(cval) && mode == filter_mode::constant)
    throw_error<value_error>(name, ": cval ", cval, " is not finite");
  // The padding holds the input's values, or cval: exact in the input's dtype, or the input
  // goes to float64 first so that a fractional cval stays what it is (scipy pads in float64).
  array input = a;
  if (mode == filter_mode::constant && !a.dtype().is_float() && cval != std::trunc(cval))
    input = a.astype(make_dtype(scalar_kind::float64));
  std::vector<std::pair<index_t, index_t>> widths(a.ndim(), {0, 0});
  widths[static_cast<std::size_t>(d)] = {before, after};
  const pad_mode pm = mode == filter_mode::reflect   ? pad_mode::symmetric
                      : mode == filter_mode::mirror  ? pad_mode::reflect
                      : mode == filter_mode::nearest ? pad_mode::edge
                      : mode == filter_mode::wrap    ? pad_mode::wrap
                                                     : pad_mode::constant;
  if (a.shape()[static_cast<std::size_t>(d)] > 0) input = pad(input, widths, pm, cval);
  auto n = std::make_shared<node>();
  n->kind = detail::node_kind::blocks;
  n->shape = a.shape();
  n->dtype = make_dtype(a.dtype().kind);
  n->chunks = a.chunks();
  n->inputs = {input.node()};
  auto p = std::make_shared<detail::blocks_payload>();
  p->name = name;
  p->before.assign(a.ndim(), 0);
  p->after.assign(a.ndim(), 0);
  p->before[static_cast<std::size_t>(d)] = before;
  p->after[static_cast<std::size_t>(d)] = after;
  p->clip = a.shape()[static_cast<std::size_t>(d)] == 0;
  p->window = op;
  p->window_axis = d;
  p->weights = std::move(weights);
  p->rank = rank;
  n->blocks = std::move(p);
  return array(std::move(n));
}

// A window of `size` shifted by `origin`: its halo before and after each output (scipy's
// size1 + origin and size2 - origin).
std::pair<index_t, index_t> halo(const char* name, index_t size, index_t origin) {
  if (size < 1) throw_error<value_error>(name, ": incorrect filter size ", size);
  if (size / 2 + origin < 0 || size / 2 + origin >= size)
    throw_error<value_error>(name, ": invalid origin ", origin, " for a window of ", size);
  const index_t size1 = size / 2, size2 = size - size1 - 1;
  return {size1 + origin, size2 - origin};
}

array sized(const char* name, window_op op, const array& a, index_t size, int axis,
            filter_mode mode, double cval, index_t origin) {
  const auto [before, after] = halo(name, size, origin);
  return window(name, a, axis, op, before, after, mode, cval, {}, size / 2);
}

// scipy.ndimage's _gaussian_kernel1d: exp(-x² / 2σ²) normalised, times the polynomial that
// gives its derivative of `order`.
std::vector<double> gaussian_kernel(double sigma, int order, index_t radius) {
  const double sigma2 = sigma * sigma;
  std::vector<double> phi;
  for (index_t x = -radius; x <= radius; ++x)
    phi.push_back(std::exp(-0.5 / sigma2 * static_cast<double>(x * x)));
  const double total = pairwise_sum(phi.data(), phi.size());
  for (double& v : phi) v = v / total;
  if (order == 0) return phi;
  // q(x) with f^(k) = q(x) phi(x): q' + q p', p' = -x / σ², applied `order` times.
  std::vector<double> q(static_cast<std::size_t>(order) + 1, 0.0);
  q[0] = 1;
  for (int step = 0; step < order; ++step) {
    std::vector<double> next(q.size(), 0.0);
    for (std::size_t k = 0; k < q.size(); ++k) {
      double s = 0;  // row k of (D + P) · q, in column order
      if (k > 0) s += (1 / -sigma2) * q[k - 1];
      if (k + 1 < q.size()) s += static_cast<double>(k + 1) * q[k + 1];
      next[k] = s;
    }
    q = std::move(next);
  }
  std::vector<double> out;
  for (index_t x = -radius; x <= radius; ++x) {
    double s = 0, power = 1;
    for (std::size_t k = 0; k < q.size(); ++k) {
      s += power * q[k];
      power *= static_cast<double>(x);
    }
    out.push_back(s * phi[static_cast<std::size_t>(x + radius)]);
  }
  return out;
}

}  // namespace

array correlate1d(const array& a, std::vector<double> weights, int axis, filter_mode mode,
                  double cval, index_t origin) {
  if (weights.empty()) throw_error<value_error>("correlate1d: no filter weights given");
  for (double w : weights) {
    if (!std::isfinite(w)) throw_error<value_error>("correlate1d: weight ", w, " is not finite");
  }
  const auto [before, after] = halo("correlate1d", static_cast<index_t>(weights.size()), origin);
  return window("correlate1d", a, axis, window_op::correlate, before, after, mode, cval,
                std::move(weights));
}

array convolve1d(const array& a, std::vector<double> weights, int axis, filter_mode mode,
                 double cval, index_t origin) {
  // scipy: the weights reversed, the origin negated (and moved by one for an even length).
  std::reverse(weights.begin(), weights.end());
  origin = -origin;
  if (weights.size() % 2 == 0) origin -= 1;
  return correlate1d(a, std::move(weights), axis, mode, cval, origin);
}

array uniform_filter1d(const array& a, index_t size, int axis, filter_mode mode, double cval,
                       index_t origin) {
  return sized("uniform_filter1d", window_op::uniform, a, size, axis, mode, cval, origin);
}
array minimum_filter1d(const array& a, index_t size, int axis, filter_mode mode, double cval,
                       index_t origin) {
  return sized("minimum_filter1d", window_op::minimum, a, size, axis, mode, cval, origin);
}
array maximum_filter1d(const array& a, index_t size, int axis, filter_mode mode, double cval,
                       index_t origin) {
  return sized("maximum_filter1d", window_op::maximum, a, size, axis, mode, cval, origin);
}
array median_filter1d(const array& a, index_t size, int axis, filter_mode mode, double cval,
                      index_t origin) {
  return sized("median_filter1d", window_op::median, a, size, axis, mode, cval, origin);
}

array gaussian_filter1d(const array& a, double sigma, int axis, int order, filter_mode mode,
                        double cval, double truncate, std::optional<index_t> radius) {
  if (!(sigma > 0) || !std::isfinite(sigma))
    throw_error<value_error>("gaussian_filter1d: sigma ", sigma, " (must be positive)");
  if (order < 0 || order > 8) throw_error<value_error>("gaussian_filter1d: order ", order);
  if (!std::isfinite(truncate) || truncate < 0)
    throw_error<value_error>("gaussian_filter1d: truncate ", truncate);
  const double reach = truncate * sigma + 0.5;
  if (!radius && reach > (1 << 24))
    throw_error<value_error>("gaussian_filter1d: a radius of ", reach, " is too large");
  const index_t r = radius.value_or(static_cast<index_t>(reach));
  if (r < 0 || r > (1 << 24)) throw_error<value_error>("gaussian_filter1d: radius ", r);
  std::vector<double> w = gaussian_kernel(sigma, order, r);
  std::reverse(w.begin(), w.end());  // scipy correlates with the reversed kernel
  return correlate1d(a, std::move(w), axis, mode, cval, 0);
}

array uniform_filter(const array& a, std::vector<index_t> size, filter_mode mode, double cval) {
  detail::node_of(a);
  if (size.size() == 1) size.assign(a.ndim(), size[0]);
  if (size.size() != a.ndim())
    throw_error<shape_error>("uniform_filter: ", size.size(), " sizes for ", a.ndim(), " axes");
  array out = a;
  for (std::size_t d = 0; d < a.ndim(); ++d) {
    if (size[d] > 1) out = uniform_filter1d(out, size[d], static_cast<int>(d), mode, cval);
  }
  return out;
}

array gaussian_filter(const array& a, std::vector<double> sigma, int order, filter_mode mode,
                      double cval, double truncate) {
  detail::node_of(a);
  if (sigma.size() == 1) sigma.assign(a.ndim(), sigma[0]);
  if (sigma.size() != a.ndim())
    throw_error<shape_error>("gaussian_filter: ", sigma.size(), " sigmas for ", a.ndim(), " axes");
  array out = a;
  for (std::size_t d = 0; d < a.ndim(); ++d) {
    if (sigma[d] > 1e-15)
      out = gaussian_filter1d(out, sigma[d], static_cast<int>(d), order, mode, cval, truncate);
  }
  return out;
}

}  // namespace chunkarr
