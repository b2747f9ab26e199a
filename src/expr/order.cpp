// median, quantile, percentile and their nan forms: the reduced axes moved last and read
// whole (a rechunk the planner turns into an intermediate when a direct read would decode
// chunks many times), then a blockwise function per block of output elements
// (src/exec/order.cpp computes NumPy's values).
#include "chunkarr/expr/order.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "chunkarr/core/error.hpp"
#include "chunkarr/expr/blocks.hpp"
#include "exec/order.hpp"
#include "expr/node.hpp"

namespace chunkarr {

namespace {

constexpr std::array<std::pair<quantile_method, const char*>, 13> method_names{{
    {quantile_method::inverted_cdf, "inverted_cdf"},
    {quantile_method::averaged_inverted_cdf, "averaged_inverted_cdf"},
    {quantile_method::closest_observation, "closest_observation"},
    {quantile_method::interpolated_inverted_cdf, "interpolated_inverted_cdf"},
    {quantile_method::hazen, "hazen"},
    {quantile_method::weibull, "weibull"},
    {quantile_method::linear, "linear"},
    {quantile_method::median_unbiased, "median_unbiased"},
    {quantile_method::normal_unbiased, "normal_unbiased"},
    {quantile_method::lower, "lower"},
    {quantile_method::higher, "higher"},
    {quantile_method::midpoint, "midpoint"},
    {quantile_method::nearest, "nearest"},
}};

// Values per task beyond which the kept axes are cut finer (each task holds its block of
// whole reduced axes, and one row more to partition).
constexpr index_t block_target = index_t{32} << 20;

array order_statistic(const array& a, detail::quantile_spec spec, bool scalar_q, axes_t axes,
                      bool keepdims, const std::string& op) {
  const detail::node& in = detail::node_of(a);
  const std::size_t ndim = in.shape.size();
  for (double q : spec.q) {
    if (!(q >= 0 && q <= 1))
      throw_error<value_error>(op, ": quantiles must be in the range [0, 1], not ", q);
  }
  std::vector<bool> reduced(ndim, axes.empty());
  for (int axis : axes) {
    const auto d = static_cast<std::size_t>(detail::normalize_axis(axis, ndim, op.c_str()));
    if (reduced[d]) throw_error<shape_error>(op, ": duplicate value in 'axis'");
    reduced[d] = true;
  }
  spec.input = in.dtype.kind;
  spec.output = detail::quantile_output(spec.input, spec.median, spec.method, op.c_str());
  index_t n = 1;
  std::vector<int> source, destination;
  shape_t kept_chunk;
  std::string in_index, out_index = scalar_q || spec.median ? "" : "#";
  for (std::size_t d = 0; d < ndim; ++d) {
    if (reduced[d]) {
      n *= in.shape[d];
      source.push_back(static_cast<int>(d));
    } else {
      const char letter = static_cast<char>('a' + kept_chunk.size());
      in_index += letter;
      out_index += letter;
      kept_chunk.push_back(in.chunks[d].empty() ? 1 : in.chunks[d].front());
    }
  }
  if (n == 0 && !spec.median) {
    throw_error<value_error>(op, ": no values to take a quantile of (shape ", to_string(in.shape),
                             ")");
  }
  for (std::size_t k = 0; k < source.size(); ++k) {
    destination.push_back(static_cast<int>(kept_chunk.size() + k));
    in_index += static_cast<char>('A' + k);
  }
  // Blocks whole along the reduced axes, and as many output elements as fit the target.
  const auto itemsize = static_cast<index_t>(in.dtype.itemsize());
  const auto block_bytes = [&] {
    index_t v = std::max<index_t>(n, 1) * itemsize;
    for (index_t c : kept_chunk) v *= c;
    return v;
  };
  while (block_bytes() > block_target) {
    auto widest = std::max_element(kept_chunk.begin(), kept_chunk.end());
    if (widest == kept_chunk.end() || *widest <= 1) break;
    *widest = (*widest + 1) / 2;
  }
  const array moved = moveaxis(a, source, destination);
  shape_t chunks = kept_chunk;
  for (std::size_t k = 0; k < source.size(); ++k) chunks.push_back(-1);
  const array whole = ndim ? rechunk(moved, chunks) : moved;

  blockwise_options o;
  o.dtype = make_dtype(spec.output);
  o.name = op;
  o.scratch_bytes = n * itemsize;
  const index_t nq = spec.median ? 1 : static_cast<index_t>(spec.q.size());
  if (!out_index.empty() && out_index[0] == '#') o.new_axes = {{'#', nq}};
  const block_function f = [spec, n](std::span<const block_view> blocks, block_span out,
                                     const block_info&) {
    const index_t rows = n ? element_count(blocks[0].shape) / n : element_count(out.shape);
    detail::quantile_rows(spec, blocks[0].data, rows, n, out.data);
  };
  array result = blockwise(f, out_index, {{whole, in_index}}, o);
  if (keepdims) {
    const int offset = out_index.starts_with('#') ? 1 : 0;
    for (std::size_t d = 0; d < ndim; ++d) {
      if (reduced[d]) result = expand_dims(result, offset + static_cast<int>(d));
    }
  }
  return result;
}

detail::quantile_spec spec_of(std::vector<double> q, quantile_method method, bool skip_nan) {
  detail::quantile_spec s;
  s.q = std::move(q);
  s.method = method;
  s.skip_nan = skip_nan;
  return s;
}

std::vector<double> fractions(const std::vector<double>& percent, const char* op) {
  std::vector<double> q;
  for (double p : percent) {
    if (!(p >= 0 && p <= 100))
      throw_error<value_error>(op, ": percentiles must be in the range [0, 100], not ", p);
    q.push_back(p / 100);
  }
  return q;
}

}  // namespace

quantile_method quantile_method_named(std::string_view name) {
  for (const auto& [method, text] : method_names) {
    if (name == text) return method;
  }
  std::string known;
  for (const auto& [method, text] : method_names)
    known += std::string(known.empty() ? "" : ", ") + text;
  throw_error<value_error>("quantile: '", name, "' is not a method; NumPy's are ", known);
}

const char* name_of(quantile_method method) {
  for (const auto& [m, text] : method_names) {
    if (m == method) return text;
  }
  return "?";
}

array quantile(const array& a, const std::vector<double>& q, axes_t axes, quantile_method method,
               bool keepdims) {
  return order_statistic(a, spec_of(q, method, false), false, std::move(axes), keepdims,
                         "quantile");
}
array quantile(const array& a, double q, axes_t axes, quantile_method method, bool keepdims) {
  return order_statistic(a, spec_of({q}, method, false), true, std::move(axes), keepdims,
                         "quantile");
}
array percentile(const array& a, const std::vector<double>& q, axes_t axes, quantile_method method,
                 bool keepdims) {
  return order_statistic(a, spec_of(fractions(q, "percentile"), method, false), false,
                         std::move(axes), keepdims, "percentile");
}
array percentile(const array& a, double q, axes_t axes, quantile_method method, bool keepdims) {
  return order_statistic(a, spec_of(fractions({q}, "percentile"), method, false), true,
                         std::move(axes), keepdims, "percentile");
}
array nanquantile(const array& a, const std::vector<double>& q, axes_t axes, quantile_method method,
                  bool keepdims) {
  return order_statistic(a, spec_of(q, method, true), false, std::move(axes), keepdims,
                         "nanquantile");
}
array nanquantile(const array& a, double q, axes_t axes, quantile_method method, bool keepdims) {
  return order_statistic(a, spec_of({q}, method, true), true, std::move(axes), keepdims,
                         "nanquantile");
}
array nanpercentile(const array& a, const std::vector<double>& q, axes_t axes,
                    quantile_method method, bool keepdims) {
  return order_statistic(a, spec_of(fractions(q, "nanpercentile"), method, true), false,
                         std::move(axes), keepdims, "nanpercentile");
}
array nanpercentile(const array& a, double q, axes_t axes, quantile_method method, bool keepdims) {
  return order_statistic(a, spec_of(fractions({q}, "nanpercentile"), method, true), true,
                         std::move(axes), keepdims, "nanpercentile");
}
array median(const array& a, axes_t axes, bool keepdims) {
  detail::quantile_spec s;
  s.median = true;
  return order_statistic(a, s, true, std::move(axes), keepdims, "median");
}
array nanmedian(const array& a, axes_t axes, bool keepdims) {
  detail::quantile_spec s;
  s.median = true;
  s.skip_nan = true;
  return order_statistic(a, s, true, std::move(axes), keepdims, "nanmedian");
}

}  // namespace chunkarr
