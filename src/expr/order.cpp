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

array order_statistic(const array& a, detail::quantile_spec spec, bool scalar_q, axes_t axes,
                      bool keepdims, const std::string& op) {
  const detail::node& in = detail::node_of(a);
  const std::size_t ndim = in.shape.size();
  for (double q : spec.q) {
    if (!(q >= 0 && q <= 1))
      throw_error<value_error>(op, ": quantiles must be in the range [0, 1], not ", q);
  }
  spec.reduced.assign(ndim, axes.empty());
  for (int axis : axes) {
    const auto d = static_cast<std::size_t>(detail::normalize_axis(axis, ndim, op.c_str()));
    if (spec.reduced[d]) throw_error<shape_error>(op, ": duplicate value in 'axis'");
    spec.reduced[d] = true;
  }
  spec.input = in.dtype.kind;
  spec.output = detail::quantile_output(spec.input, spec.median, spec.method, op.c_str());
  spec.name = op;
  // The node: q-major (one q for a median or a scalar q, dropped below), then the kept axes.
  auto n = std::make_shared<detail::node>();
  n->kind = detail::node_kind::select;
  const index_t nq = spec.median ? 1 : static_cast<index_t>(spec.q.size());
  n->shape = {nq};
  n->chunks = {axis_chunks{nq}};
  index_t count = 1;
  for (std::size_t d = 0; d < ndim; ++d) {
    if (spec.reduced[d]) {
      count *= in.shape[d];
    } else {
      n->shape.push_back(in.shape[d]);
      n->chunks.push_back(in.chunks[d]);
    }
  }
  if (count == 0 && !spec.median) {
    throw_error<value_error>(op, ": no values to take a quantile of (shape ", to_string(in.shape),
                             ")");
  }
  n->dtype = make_dtype(spec.output);
  n->inputs = {a.node()};
  const bool one = scalar_q || spec.median;
  const std::vector<bool> reduced = spec.reduced;
  n->select = std::make_shared<const detail::quantile_spec>(std::move(spec));
  array result(std::move(n));
  if (one) result = result({index_spec(0)});
  if (keepdims) {
    for (std::size_t d = 0; d < ndim; ++d) {
      if (reduced[d]) result = expand_dims(result, (one ? 0 : 1) + static_cast<int>(d));
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

namespace detail {

node_ptr gather_form(const node& select, const shape_t& kept_chunk) {
  const quantile_spec& spec = *select.select;
  const node& in = *select.inputs[0];
  const std::size_t ndim = in.shape.size();
  index_t n = 1;
  std::vector<int> source, destination;
  std::string in_index, out_index = "#";
  for (std::size_t d = 0; d < ndim; ++d) {
    if (spec.reduced[d]) {
      n *= in.shape[d];
      source.push_back(static_cast<int>(d));
    } else {
      const char letter = static_cast<char>('a' + (out_index.size() - 1));
      in_index += letter;
      out_index += letter;
    }
  }
  shape_t chunks = kept_chunk;
  for (std::size_t k = 0; k < source.size(); ++k) {
    destination.push_back(static_cast<int>(kept_chunk.size() + k));
    in_index += static_cast<char>('A' + k);
    chunks.push_back(-1);
  }
  const array a(select.inputs[0]);
  const array moved = moveaxis(a, source, destination);
  const array whole = ndim ? rechunk(moved, chunks) : moved;
  blockwise_options o;
  o.dtype = select.dtype;
  o.name = spec.name;
  o.scratch_bytes = n * static_cast<index_t>(in.dtype.itemsize());
  o.new_axes = {{'#', select.shape[0]}};
  const block_function f = [spec, n](std::span<const block_view> blocks, block_span out,
                                     const block_info&) {
    const index_t rows =
        n ? element_count(blocks[0].shape) / n : element_count(out.shape) / out.shape[0];
    quantile_rows(spec, blocks[0].data, rows, n, out.data);
  };
  return blockwise(f, out_index, {{whole, in_index}}, o).node();
}

}  // namespace detail

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
