// median, quantile, percentile and their nan forms: the reduced axes moved last and read
// whole (a rechunk the planner turns into an intermediate when a direct read would decode
// chunks many times), then a blockwise function per block of output elements
// (src/exec/order.cpp computes NumPy's values).
#include "chunkarr/expr/order.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
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

// ---- histograms ----------------------------------------------------------------------------

namespace {

// What a histogram counts: equal bins over [first, last] (or over the values' min and max,
// read from two 0-d inputs when `auto_range`), or given edges.
struct histogram_spec {
  index_t bins = 10;
  bool auto_range = false;
  double first = 0, last = 1;
  std::vector<double> edges;  // given edges (float64); empty for equal bins
  bool float32 = false;       // the edges' type (the data's when it is float32)
};

double as_edge(const histogram_spec& h, double v) {
  return h.float32 ? static_cast<double>(static_cast<float>(v)) : v;
}

// NumPy's _get_outer_edges for an autodetected range, then linspace's edges in the bin type.
std::vector<double> equal_edges(const histogram_spec& h, double& first, double& last) {
  if (h.auto_range) {
    if (!std::isfinite(first) || !std::isfinite(last)) {
      throw_error<value_error>("histogram: autodetected range of [", first, ", ", last,
                               "] is not finite");
    }
    if (first == last) first -= 0.5, last += 0.5;
  }
  std::vector<double> e(static_cast<std::size_t>(h.bins) + 1);
  if (h.float32 && h.auto_range) {
    // The data's own float32 min and max: linspace runs in float32 (NumPy 2's promotion).
    const auto f = static_cast<float>(first), l = static_cast<float>(last);
    const float step = (l - f) / static_cast<float>(h.bins);
    for (index_t i = 0; i < h.bins; ++i)
      e[static_cast<std::size_t>(i)] = static_cast<float>(static_cast<float>(i) * step) + f;
    e.back() = l;
    return e;
  }
  const double step = (last - first) / static_cast<double>(h.bins);
  for (index_t i = 0; i < h.bins; ++i)
    e[static_cast<std::size_t>(i)] = as_edge(h, static_cast<double>(i) * step + first);
  e.back() = as_edge(h, last);
  return e;
}

template <class T>
double scalar_at(const block_view& b) {
  T v;
  std::memcpy(&v, b.data, sizeof v);
  return static_cast<double>(v);
}

// A block's histogram (counts or sums of weights, as float64 or int64) into `out`.
template <class T, class W, class Out>
void histogram_block(const histogram_spec& h, std::span<const block_view> in, Out* out) {
  const index_t n = h.bins;
  std::fill(out, out + n, Out(0));
  double first = h.first, last = h.last;
  std::vector<double> e = h.edges;
  if (e.empty()) {
    if (h.auto_range) first = scalar_at<T>(in[1]), last = scalar_at<T>(in[2]);
    e = equal_edges(h, first, last);
  }
  const auto* v = reinterpret_cast<const T*>(in[0].data);
  const W* w = nullptr;
  if constexpr (!std::is_same_v<W, void>) w = reinterpret_cast<const W*>(in.back().data);
  const index_t count = element_count(in[0].shape);
  const double lo = e.front(), hi = e.back();
  const double norm = static_cast<double>(n) / (last - first);
  for (index_t k = 0; k < count; ++k) {
    const double x =
        h.edges.empty() ? as_edge(h, static_cast<double>(v[k])) : static_cast<double>(v[k]);
    if (!(x >= lo && x <= hi)) continue;  // NaN too
    index_t i;
    if (h.edges.empty()) {  // NumPy's estimate, then its corrections against the edges
      i = static_cast<index_t>((x - first) * norm);
      i = std::clamp<index_t>(i, 0, n - 1);
      if (x < e[static_cast<std::size_t>(i)]) --i;
      if (i != n - 1 && x >= e[static_cast<std::size_t>(i) + 1]) ++i;
    } else {
      i = std::upper_bound(e.begin(), e.end(), x) - e.begin() - 1;
      if (i >= n) i = n - 1;  // the last edge belongs to the last bin
    }
    if constexpr (std::is_same_v<W, void>)
      out[i] += 1;
    else
      out[i] += static_cast<Out>(w[k]);
  }
}

array edges_array(const std::vector<double>& e, bool float32) {
  if (!float32) {
    return from_buffer(std::as_bytes(std::span<const double>(e)), {static_cast<index_t>(e.size())},
                       make_dtype(scalar_kind::float64));
  }
  std::vector<float> f(e.begin(), e.end());
  return from_buffer(std::as_bytes(std::span<const float>(f)), {static_cast<index_t>(f.size())},
                     make_dtype(scalar_kind::float32));
}

histogram_result histogram_of(const array& a, histogram_spec h, std::optional<array> weights,
                              bool density) {
  detail::node_of(a);
  if (a.dtype().is_bool())
    throw_error<type_error>("histogram: booleans have no bins (astype them first)");
  if (weights) {
    detail::node_of(*weights);
    if (weights->shape() != a.shape()) {
      throw_error<shape_error>("histogram: weights of shape ", to_string(weights->shape()),
                               " for values of shape ", to_string(a.shape()),
                               " (they must be the same)");
    }
    if (weights->dtype().is_bool())
      throw_error<type_error>("histogram: boolean weights (astype them first)");
  }
  h.float32 = h.edges.empty() && a.dtype().kind == scalar_kind::float32;
  const dtype edge_type = make_dtype(h.float32 ? scalar_kind::float32 : scalar_kind::float64);
  if (h.edges.empty() && a.size() == 0 && h.auto_range) {
    h.auto_range = false;
    h.first = 0, h.last = 1;
  }
  // The edges: known now, or from the values' min and max when the result is computed.
  array edges;
  array lo, hi;
  if (h.edges.empty() && h.auto_range) {
    lo = reduce(reduce_op::min, a);
    hi = reduce(reduce_op::max, a);
    blockwise_options o;
    o.dtype = edge_type;
    o.name = "histogram_bin_edges";
    o.new_axes = {{'#', h.bins + 1}};
    edges = blockwise(
        [h](std::span<const block_view> in, block_span out, const block_info&) {
          visit_kind(in[0].dtype.kind, [&](auto sample) {
            using T = decltype(sample);
            if constexpr (!std::is_same_v<T, bool>) {
              double first = scalar_at<T>(in[0]), last = scalar_at<T>(in[1]);
              const std::vector<double> e = equal_edges(h, first, last);
              for (std::size_t i = 0; i < e.size(); ++i) {
                if (h.float32)
                  reinterpret_cast<float*>(out.data)[i] = static_cast<float>(e[i]);
                else
                  reinterpret_cast<double*>(out.data)[i] = e[i];
              }
            }
          });
        },
        "#", {{lo, ""}, {hi, ""}}, o);
  } else if (h.edges.empty()) {
    double first = h.first, last = h.last;
    edges = edges_array(equal_edges(h, first, last), h.float32);
  } else {
    edges = edges_array(h.edges, false);
  }
  // Per chunk of the values a histogram, then their sum over the chunks in a fixed order.
  std::string index;
  std::vector<blockwise_input> inputs;
  blockwise_options o;
  for (std::size_t d = 0; d < a.ndim(); ++d) {
    const char letter = static_cast<char>('a' + d);
    index += letter;
    o.adjust_chunks[letter] =
        std::vector<index_t>(static_cast<std::size_t>(a.chunks()[d].size()), 1);
  }
  inputs.push_back({a, index});
  if (h.auto_range && h.edges.empty()) inputs.insert(inputs.end(), {{lo, ""}, {hi, ""}});
  if (weights) inputs.push_back({*weights, index});
  const bool weighted = weights.has_value();
  o.dtype = make_dtype(weighted ? scalar_kind::float64 : scalar_kind::int64);
  o.name = "histogram";
  o.new_axes = {{'#', h.bins}};
  const scalar_kind weight_kind = weighted ? weights->dtype().kind : scalar_kind::float64;
  const block_function count = [h, weighted, weight_kind](std::span<const block_view> in,
                                                          block_span out, const block_info&) {
    visit_kind(in[0].dtype.kind, [&](auto sample) {
      using T = decltype(sample);
      if constexpr (!std::is_same_v<T, bool>) {
        if (!weighted) {
          histogram_block<T, void>(h, in, reinterpret_cast<std::int64_t*>(out.data));
          return;
        }
        visit_kind(weight_kind, [&](auto wsample) {
          using W = decltype(wsample);
          if constexpr (!std::is_same_v<W, bool>)
            histogram_block<T, W>(h, in, reinterpret_cast<double*>(out.data));
        });
      }
    });
  };
  const array partial = blockwise(count, index + "#", inputs, o);
  axes_t chunk_axes;
  for (std::size_t d = 0; d < a.ndim(); ++d) chunk_axes.push_back(static_cast<int>(d));
  array counts = chunk_axes.empty() ? partial : reduce(reduce_op::sum, partial, chunk_axes);
  if (weighted) counts = counts.astype(weights->dtype());
  if (density) {
    const dtype f8 = make_dtype(scalar_kind::float64);
    const index_t m = edges.shape()[0];
    const array widths = (edges({range(1, m)}) - edges({range(0, m - 1)})).astype(f8);
    counts = counts.astype(f8) / widths / reduce(reduce_op::sum, counts).astype(f8);
  }
  return {counts, edges};
}

}  // namespace

histogram_result histogram(const array& a, index_t bins,
                           std::optional<std::pair<double, double>> range,
                           std::optional<array> weights, bool density) {
  if (bins < 1) throw_error<value_error>("histogram: `bins` must be positive, not ", bins);
  if (bins > (index_t{1} << 28)) throw_error<value_error>("histogram: ", bins, " bins is too many");
  histogram_spec h;
  h.bins = bins;
  h.auto_range = !range;
  if (range) {
    if (range->first > range->second)
      throw_error<value_error>("histogram: max must be larger than min in range parameter");
    if (!std::isfinite(range->first) || !std::isfinite(range->second)) {
      throw_error<value_error>("histogram: supplied range of [", range->first, ", ", range->second,
                               "] is not finite");
    }
    h.first = range->first, h.last = range->second;
    if (h.first == h.last) h.first -= 0.5, h.last += 0.5;
  }
  return histogram_of(a, h, std::move(weights), density);
}

histogram_result histogram(const array& a, const std::vector<double>& edges,
                           std::optional<array> weights, bool density) {
  if (edges.size() < 2)
    throw_error<value_error>("histogram: bins must have at least two edges, not ", edges.size());
  for (std::size_t i = 1; i < edges.size(); ++i) {
    if (!(edges[i - 1] <= edges[i]))
      throw_error<value_error>("histogram: bins must increase monotonically, when an array");
  }
  histogram_spec h;
  h.bins = static_cast<index_t>(edges.size()) - 1;
  h.edges = edges;
  return histogram_of(a, h, std::move(weights), density);
}

namespace {

// Positions in `sorted` (increasing) of each value of `v`, as searchsorted; `flip`: counted
// from the end of the reversed bins instead (digitize of decreasing bins).
array positions(std::vector<double> sorted, const array& v, bool right, bool flip, const char* op) {
  detail::node_of(v);
  if (v.dtype().is_bool()) throw_error<type_error>(op, ": booleans (astype them first)");
  map_blocks_options o;
  o.dtype = make_dtype(scalar_kind::int64);
  o.name = op;
  const auto n = static_cast<std::int64_t>(sorted.size());
  return map_blocks(
      [sorted = std::move(sorted), right, flip, n](std::span<const block_view> in, block_span out,
                                                   const block_info&) {
        auto* to = reinterpret_cast<std::int64_t*>(out.data);
        visit_kind(in[0].dtype.kind, [&](auto sample) {
          using T = decltype(sample);
          const auto* from = reinterpret_cast<const T*>(in[0].data);
          const index_t count = element_count(in[0].shape);
          for (index_t k = 0; k < count; ++k) {
            const auto x = static_cast<double>(from[k]);
            std::int64_t i = n;  // NaN sorts last
            if (!std::isnan(x)) {
              i = (right ? std::upper_bound(sorted.begin(), sorted.end(), x)
                         : std::lower_bound(sorted.begin(), sorted.end(), x)) -
                  sorted.begin();
            }
            to[k] = flip ? n - i : i;
          }
        });
      },
      {v}, o);
}

}  // namespace

array searchsorted(const std::vector<double>& sorted, const array& v, bool right) {
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (!(sorted[i - 1] <= sorted[i]))
      throw_error<value_error>("searchsorted: the array to search must be sorted (increasing)");
  }
  return positions(sorted, v, right, false, "searchsorted");
}

array digitize(const array& x, const std::vector<double>& bins, bool right) {
  bool increasing = true, decreasing = true;
  for (std::size_t i = 1; i < bins.size(); ++i) {
    increasing = increasing && bins[i - 1] <= bins[i];
    decreasing = decreasing && bins[i - 1] >= bins[i];
  }
  if (!increasing && !decreasing)
    throw_error<value_error>("digitize: bins must be monotonically increasing or decreasing");
  // NumPy: searchsorted(bins, x, side='left' if right else 'right'), or for decreasing bins
  // len(bins) - searchsorted(bins[::-1], x, same side).
  if (increasing) return positions(bins, x, !right, false, "digitize");
  return positions(std::vector<double>(bins.rbegin(), bins.rend()), x, !right, true, "digitize");
}

array histogram_bin_edges(const array& a, index_t bins,
                          std::optional<std::pair<double, double>> range) {
  return histogram(a, bins, range).edges;
}

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

// ---- sorting -------------------------------------------------------------------------------

namespace {

// NumPy's sort order: NaN after every number.
template <class T>
bool before(T x, T y) {
  if constexpr (std::is_floating_point_v<T>)
    return x < y || (std::isnan(y) && !std::isnan(x));
  else
    return x < y;
}

constexpr index_t sort_block_bytes = index_t{8} << 20;  // a block of whole rows, about

// The chunks that make `shape`'s last axis whole and its blocks about sort_block_bytes.
shape_t row_chunks(const shape_t& shape, index_t bytes_per_value) {
  shape_t chunks(shape.size());
  const index_t n = shape.back();
  index_t rows = std::max<index_t>(1, sort_block_bytes / std::max<index_t>(1, n * bytes_per_value));
  chunks.back() = std::max<index_t>(1, n);
  for (std::size_t d = shape.size() - 1; d-- > 0;) {
    chunks[d] = std::max<index_t>(1, std::min(shape[d], rows));
    rows = std::max<index_t>(1, rows / chunks[d]);
  }
  return chunks;
}

// a with `axis` moved last (nullopt: a flattened), and the axis.
std::pair<array, int> last_axis(const array& a, std::optional<int> axis, const char* op) {
  if (!axis) return {ravel(a), 0};
  if (a.ndim() == 0)
    throw_error<shape_error>(op, ": axis ", *axis, " is out of bounds for a 0-d array");
  const int ax = detail::normalize_axis(*axis, a.ndim(), op);
  const int last = static_cast<int>(a.ndim()) - 1;
  return {ax == last ? a : moveaxis(a, {ax}, {last}), ax};
}

array restore_axis(const array& r, std::optional<int> axis, int ax) {
  const int last = static_cast<int>(r.ndim()) - 1;
  return !axis || ax == last ? r : moveaxis(r, {last}, {ax});
}

array sorted_rows(const array& a, std::optional<int> axis, bool indices, const char* op) {
  const std::pair<array, int> m = last_axis(a, axis, op);
  const array& moved = m.first;
  const int ax = m.second;
  const index_t itemsize = static_cast<index_t>(moved.dtype().itemsize());
  const array rows = rechunk(moved, row_chunks(moved.shape(), itemsize + (indices ? 8 : 0)));
  map_blocks_options o;
  o.dtype = indices ? make_dtype(scalar_kind::int64) : moved.dtype();
  o.name = op;
  const array sorted = map_blocks(
      [indices](std::span<const block_view> in, block_span out, const block_info&) {
        const index_t n = in[0].shape.empty() ? 1 : in[0].shape.back();
        const index_t count = element_count(in[0].shape);
        if (count == 0) return;
        visit_kind(in[0].dtype.kind, [&](auto sample) {
          using T = decltype(sample);
          const auto* from = reinterpret_cast<const T*>(in[0].data);
          for (index_t r = 0; r < count / n; ++r) {
            const T* v = from + r * n;
            if (indices) {
              auto* idx = reinterpret_cast<std::int64_t*>(out.data) + r * n;
              for (index_t i = 0; i < n; ++i) idx[i] = i;
              std::stable_sort(idx, idx + n,
                               [v](std::int64_t i, std::int64_t j) { return before(v[i], v[j]); });
            } else {
              T* to = reinterpret_cast<T*>(out.data) + r * n;
              std::copy(v, v + n, to);
              std::stable_sort(to, to + n, [](T x, T y) { return before(x, y); });
            }
          }
        });
      },
      {rows}, o);
  return restore_axis(sorted, axis, ax);
}

array partitioned(const array& a, const std::vector<index_t>& kth, std::optional<int> axis,
                  bool indices, const char* op) {
  const index_t n =
      !axis ? a.size()
      : a.ndim() == 0
          ? 1
          : a.shape()[static_cast<std::size_t>(detail::normalize_axis(*axis, a.ndim(), op))];
  for (const index_t k : kth) {
    if (k < -n || k >= n) throw_error<value_error>(op, ": kth(=", k, ") out of bounds (", n, ")");
  }
  return sorted_rows(a, axis, indices, op);
}

// The best `keep` of each row of `values` (`labels` its indices, or nullptr for 0, 1, …):
// largest first (smallest first when !largest), NaN largest, of equal values the smaller
// label first. Writes values or labels.
template <class T>
void best_of_rows(const T* values, const std::int64_t* labels, index_t rows, index_t n,
                  index_t keep, bool largest, std::int64_t offset, void* out, bool indices) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (index_t r = 0; r < rows; ++r) {
    const T* v = values + r * n;
    const std::int64_t* l = labels ? labels + r * n : nullptr;
    for (index_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    const auto label = [&](std::int64_t i) { return l ? l[i] : offset + i; };
    std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                      [&](std::int64_t i, std::int64_t j) {
                        const bool ij = largest ? before(v[j], v[i]) : before(v[i], v[j]);
                        const bool ji = largest ? before(v[i], v[j]) : before(v[j], v[i]);
                        return ij || (!ji && label(i) < label(j));
                      });
    for (index_t i = 0; i < keep; ++i) {
      const std::int64_t at = order[static_cast<std::size_t>(i)];
      if (indices)
        static_cast<std::int64_t*>(out)[r * keep + i] = label(at);
      else
        static_cast<T*>(out)[r * keep + i] = v[at];
    }
  }
}

array top(const array& a, index_t k, int axis, bool indices, const char* op) {
  const std::pair<array, int> m = last_axis(a, axis, op);
  const array& moved = m.first;
  const int ax = m.second;
  const index_t n = moved.shape().back();
  if (k == 0 || k > n || k < -n)
    throw_error<value_error>(op, ": k=", k, " is out of range for an axis of ", n, " values");
  const index_t keep = k < 0 ? -k : k;
  const bool largest = k > 0;
  const std::size_t last = moved.ndim() - 1;
  const axis_chunks along = moved.chunks()[last];
  // 1. Each chunk's best, in the chunk's order of preference: values, and indices for argtopk.
  chunks_t best_chunks = moved.chunks();
  axis_chunks kept;
  for (index_t c = 0; c < along.size(); ++c) kept.push_back(std::min(keep, along[c]));
  best_chunks[last] = kept;
  const auto stage = [&](bool labels) {
    map_blocks_options o;
    o.dtype = labels ? make_dtype(scalar_kind::int64) : moved.dtype();
    o.chunks = best_chunks;
    o.name = op;
    return map_blocks(
        [keep, largest, labels, along](std::span<const block_view> in, block_span out,
                                       const block_info& info) {
          const index_t m = in[0].shape.back(), count = element_count(in[0].shape);
          if (count == 0) return;
          const auto offset = static_cast<std::int64_t>(along.start(info.chunk.back()));
          visit_kind(in[0].dtype.kind, [&](auto sample) {
            using T = decltype(sample);
            best_of_rows(reinterpret_cast<const T*>(in[0].data), nullptr, count / m, m,
                         std::min(keep, m), largest, offset, out.data, labels);
          });
        },
        {moved}, o);
  };
  const array values = stage(false);
  // 2. The best of those, whole rows of them.
  const shape_t chunks =
      row_chunks(values.shape(), static_cast<index_t>(values.dtype().itemsize()) + 8);
  std::vector<array> inputs{rechunk(values, chunks)};
  if (indices) inputs.push_back(rechunk(stage(true), chunks));
  chunks_t out_chunks = inputs[0].chunks();
  out_chunks[last] = axis_chunks{keep};
  map_blocks_options o;
  o.dtype = indices ? make_dtype(scalar_kind::int64) : moved.dtype();
  o.chunks = out_chunks;
  o.name = op;
  const array best = map_blocks(
      [keep, largest, indices](std::span<const block_view> in, block_span out, const block_info&) {
        const index_t m = in[0].shape.back(), count = element_count(in[0].shape);
        if (count == 0) return;
        const auto* labels = indices ? reinterpret_cast<const std::int64_t*>(in[1].data) : nullptr;
        visit_kind(in[0].dtype.kind, [&](auto sample) {
          using T = decltype(sample);
          best_of_rows(reinterpret_cast<const T*>(in[0].data), labels, count / m, m, keep, largest,
                       0, out.data, indices);
        });
      },
      inputs, o);
  return restore_axis(best, axis, ax);
}

}  // namespace

array sort(const array& a, std::optional<int> axis) {
  return sorted_rows(a, axis, false, "sort");
}
array argsort(const array& a, std::optional<int> axis) {
  return sorted_rows(a, axis, true, "argsort");
}
array partition(const array& a, const std::vector<index_t>& kth, std::optional<int> axis) {
  return partitioned(a, kth, axis, false, "partition");
}
array argpartition(const array& a, const std::vector<index_t>& kth, std::optional<int> axis) {
  return partitioned(a, kth, axis, true, "argpartition");
}
array topk(const array& a, index_t k, int axis) {
  return top(a, k, axis, false, "topk");
}
array argtopk(const array& a, index_t k, int axis) {
  return top(a, k, axis, true, "argtopk");
}

}  // namespace chunkarr
