// Order statistics, histograms and sorting, as NumPy computes them: median, quantile and
// percentile (every `method` of numpy.quantile) and their NaN-skipping forms, over any axes;
// histogram; sort, argsort, partition, and dask's topk.
//
// Results are exact — NumPy's values, from the same formulas in the same arithmetic (the
// interpolation's difference in the input's type, then float64), not an approximation from
// sketches or per-chunk estimates (dask's percentile). Each task holds every value of the
// output elements it computes: the input is read in blocks that are whole along the reduced
// axes (rechunked through a temporary array when that read would decode chunks many times),
// and the values are partitioned with std::nth_element as NumPy's partition does. Reductions
// whose values per output element do not fit in the memory budget are refused by the planner,
// naming the bytes they need.
//
// NaN: the plain forms give NaN for an output element whose values hold one (NumPy's); the
// nan forms skip NaNs, and give NaN where every value is NaN.
#pragma once

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "chunkarr/expr/array.hpp"

namespace chunkarr {

/// numpy.quantile's `method`s (Hyndman & Fan's nine, and NumPy's four older ones).
enum class quantile_method {
  inverted_cdf,
  averaged_inverted_cdf,
  closest_observation,
  interpolated_inverted_cdf,
  hazen,
  weibull,
  linear,  // NumPy's default
  median_unbiased,
  normal_unbiased,
  lower,
  higher,
  midpoint,
  nearest,
};
/// The method named as NumPy names it ("linear", "median_unbiased", …); value_error otherwise.
quantile_method quantile_method_named(std::string_view name);
/// NumPy's name of a method.
const char* name_of(quantile_method method);

/// numpy.quantile of `a` over `axes` (all when empty) at each of `q` (in [0, 1]): the result's
/// first axis is q's, then a's kept axes (reduced ones kept as length 1 with `keepdims`).
/// float64 for the interpolating methods; a's dtype for inverted_cdf, closest_observation,
/// lower, higher and nearest.
array quantile(const array& a, const std::vector<double>& q, axes_t axes = {},
               quantile_method method = quantile_method::linear, bool keepdims = false);
/// One quantile: no leading axis.
array quantile(const array& a, double q, axes_t axes = {},
               quantile_method method = quantile_method::linear, bool keepdims = false);
/// numpy.percentile: quantile at q / 100 (q in [0, 100]).
array percentile(const array& a, const std::vector<double>& q, axes_t axes = {},
                 quantile_method method = quantile_method::linear, bool keepdims = false);
array percentile(const array& a, double q, axes_t axes = {},
                 quantile_method method = quantile_method::linear, bool keepdims = false);
/// The NaN-skipping forms (numpy.nanquantile, numpy.nanpercentile).
array nanquantile(const array& a, const std::vector<double>& q, axes_t axes = {},
                  quantile_method method = quantile_method::linear, bool keepdims = false);
array nanquantile(const array& a, double q, axes_t axes = {},
                  quantile_method method = quantile_method::linear, bool keepdims = false);
array nanpercentile(const array& a, const std::vector<double>& q, axes_t axes = {},
                    quantile_method method = quantile_method::linear, bool keepdims = false);
array nanpercentile(const array& a, double q, axes_t axes = {},
                    quantile_method method = quantile_method::linear, bool keepdims = false);
/// numpy.median and nanmedian: the middle value, or the mean of the two middle values in the
/// input's float type (float64 for integers and booleans, as numpy.mean). NaN when there are no
/// values.
array median(const array& a, axes_t axes = {}, bool keepdims = false);
array nanmedian(const array& a, axes_t axes = {}, bool keepdims = false);

// ---- histograms ----------------------------------------------------------------------------

/// numpy.histogram's counts (or sums of weights, or densities) and bin edges.
struct histogram_result {
  array counts;  // int64; the weights' dtype with weights; float64 with density
  array edges;   // bins + 1 of them: float32 for float32 data, else float64
};

/// numpy.histogram of all of `a`'s values in `bins` equal bins over `range` (default: the
/// values' min and max, computed when the result is: NaN there is an error, as in NumPy).
/// Values outside the range are left out; the last bin includes its right edge. `weights`
/// (a's shape) sums them instead of counting; `density` divides by the total and the widths.
/// Counts are exact integers; weighted sums are per chunk, then across chunks in a fixed
/// order (NumPy's sum runs in data order: the last bits can differ).
histogram_result histogram(const array& a, index_t bins = 10,
                           std::optional<std::pair<double, double>> range = std::nullopt,
                           std::optional<array> weights = std::nullopt, bool density = false);
/// With the bins' edges given (increasing): bin i holds edges[i] <= x < edges[i + 1], the last
/// one x == edges.back() too.
histogram_result histogram(const array& a, const std::vector<double>& edges,
                           std::optional<array> weights = std::nullopt, bool density = false);
/// numpy.searchsorted(sorted, v, side): for each of v's values, where it would go in
/// `sorted` (increasing) to keep it sorted — before equal values (`right` false: 'left') or
/// after them. NaN goes at the end. int64, v's shape.
array searchsorted(const std::vector<double>& sorted, const array& v, bool right = false);
/// numpy.digitize(x, bins, right): the index of the bin each value falls in, for bins
/// increasing or decreasing. int64, x's shape.
array digitize(const array& x, const std::vector<double>& bins, bool right = false);

/// numpy.histogram_bin_edges for equal bins.
array histogram_bin_edges(const array& a, index_t bins = 10,
                          std::optional<std::pair<double, double>> range = std::nullopt);

// ---- sorting -------------------------------------------------------------------------------

/// numpy.sort along `axis` (nullopt: all values, flattened): ascending, NaN last, equal values
/// (-0.0 and 0.0 too) in their order, as NumPy's kind='stable'. A task sorts whole rows along
/// the axis, so a row must fit in one (the planner says so when it does not).
array sort(const array& a, std::optional<int> axis = -1);
/// numpy.argsort(kind='stable'): the int64 indices along `axis` that sort it, of equal values
/// the first first.
array argsort(const array& a, std::optional<int> axis = -1);
/// numpy.partition and argpartition: the rows sorted, which puts each kth value in its place
/// with none larger before it and none smaller after, as NumPy promises (NumPy leaves the
/// rest in an order of its own). kth counts from the end when negative.
array partition(const array& a, const std::vector<index_t>& kth, std::optional<int> axis = -1);
array argpartition(const array& a, const std::vector<index_t>& kth, std::optional<int> axis = -1);
/// dask's topk: the k largest values along `axis`, largest first (k < 0: the -k smallest,
/// smallest first); NaN counts as larger than any number. Each chunk's best k, then the best
/// of those: the axis may be longer than memory holds. argtopk: their int64 indices along
/// the axis (of equal values, the first).
array topk(const array& a, index_t k, int axis = -1);
array argtopk(const array& a, index_t k, int axis = -1);

}  // namespace chunkarr
