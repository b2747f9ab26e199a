// Filters over neighbourhoods, as scipy.ndimage computes them, built on map_overlap: each
// chunk reads its halo straight from the source (no overlapped copy), so chunks smaller than
// the filter work, and memory stays one chunk plus its halo per task.
//
// The result keeps the input's dtype (scipy's `output=None`); values are computed in float64
// and converted back (truncating for integers, as scipy does). correlate1d, convolve1d and
// gaussian_filter1d sum in scipy's order and equal its results bit for bit; the min, max and
// median filters are exact; uniform_filter1d sums each window on its own, where scipy runs
// one sum along the whole line, so the two differ in the last bits (and chunkarr's do not
// depend on where chunks start).
#pragma once

#include <optional>
#include <vector>

#include "chunkarr/expr/array.hpp"

namespace chunkarr {

/// How a filter extends the array beyond its edges (scipy.ndimage's `mode`).
enum class filter_mode {
  reflect,   // d c b a | a b c d | d c b a  (scipy's default; 'grid-mirror')
  mirror,    // d c b | a b c d | c b a
  nearest,   // a a a | a b c d | d d d
  wrap,      // a b c d | a b c d | a b c d  ('grid-wrap')
  constant,  // cval beyond the edges ('grid-constant')
};

/// scipy.ndimage.correlate1d and convolve1d along `axis`; `origin` shifts the window (from
/// -(len(weights) / 2) to (len(weights) - 1) / 2).
array correlate1d(const array& a, std::vector<double> weights, int axis = -1,
                  filter_mode mode = filter_mode::reflect, double cval = 0, index_t origin = 0);
array convolve1d(const array& a, std::vector<double> weights, int axis = -1,
                 filter_mode mode = filter_mode::reflect, double cval = 0, index_t origin = 0);
/// scipy.ndimage.uniform_filter1d, minimum_filter1d, maximum_filter1d, and the median over a
/// window of `size` along `axis` (scipy.ndimage.median_filter with a size of 1 on the other
/// axes; for an even size the upper of the two middle values, as scipy's).
array uniform_filter1d(const array& a, index_t size, int axis = -1,
                       filter_mode mode = filter_mode::reflect, double cval = 0,
                       index_t origin = 0);
array minimum_filter1d(const array& a, index_t size, int axis = -1,
                       filter_mode mode = filter_mode::reflect, double cval = 0,
                       index_t origin = 0);
array maximum_filter1d(const array& a, index_t size, int axis = -1,
                       filter_mode mode = filter_mode::reflect, double cval = 0,
                       index_t origin = 0);
array median_filter1d(const array& a, index_t size, int axis = -1,
                      filter_mode mode = filter_mode::reflect, double cval = 0, index_t origin = 0);
/// scipy.ndimage.gaussian_filter1d: the Gaussian of `sigma` (or its derivative of `order`)
/// truncated at `truncate` standard deviations, or at `radius` when given.
array gaussian_filter1d(const array& a, double sigma, int axis = -1, int order = 0,
                        filter_mode mode = filter_mode::reflect, double cval = 0,
                        double truncate = 4.0, std::optional<index_t> radius = std::nullopt);
/// The n-d forms: the 1-d filter along each axis in turn (one size or sigma for all axes, or
/// one per axis), each pass in the input's dtype, as scipy's.
array uniform_filter(const array& a, std::vector<index_t> size,
                     filter_mode mode = filter_mode::reflect, double cval = 0);
array gaussian_filter(const array& a, std::vector<double> sigma, int order = 0,
                      filter_mode mode = filter_mode::reflect, double cval = 0,
                      double truncate = 4.0);

}  // namespace chunkarr
