// Scans and IIR filters along an axis: NumPy's cumulative operations, diff and gradient, and
// scipy.signal's lfilter, sosfilt, filtfilt, sosfiltfilt and butter.
//
// A scan carries its state from chunk to chunk: the chunks of one row along the axis run in
// order while the other rows run in parallel, so results are exact across chunk boundaries
// (the filter state is carried, not approximated with an overlap) and bit-identical for any
// thread count and memory budget. A result that does not fit in memory spills to disk; the
// backward pass of filtfilt reads the forward pass from there.
#pragma once

#include <array>
#include <optional>
#include <utility>
#include <vector>

#include "chunkarr/expr/array.hpp"

namespace chunkarr {

// ---- cumulative operations ---------------------------------------------------------------

/// NumPy's cumsum, cumprod, nancumsum and nancumprod along `axis` (of the flattened array
/// when nullopt). Sums and products of bools and signed integers are int64, of unsigned
/// integers uint64 (wrapping as NumPy's do); floats keep their type and accumulate in it.
array cumsum(const array& a, std::optional<int> axis = std::nullopt);
array cumprod(const array& a, std::optional<int> axis = std::nullopt);
array nancumsum(const array& a, std::optional<int> axis = std::nullopt);
array nancumprod(const array& a, std::optional<int> axis = std::nullopt);

/// NumPy's diff: the n-th discrete difference along `axis` (bools: not_equal).
array diff(const array& a, int n = 1, int axis = -1);
/// NumPy's gradient along one axis with uniform `spacing` (edge_order 1): central differences
/// inside, one-sided at the two ends; float64 for integer input. The axis needs 2 elements.
array gradient(const array& a, int axis, double spacing = 1.0);

// ---- IIR filters (scipy.signal) ----------------------------------------------------------

/// Second-order sections, one row (b0, b1, b2, a0, a1, a2) per section: scipy's `sos`.
using sos_t = std::vector<std::array<double, 6>>;

/// scipy.signal.lfilter(b, a, x, axis): the transposed direct form II filter with zero initial
/// state, in float64. `a[0]` must be nonzero (b and a are normalised by it).
array lfilter(std::vector<double> b, std::vector<double> a, const array& x, int axis = -1);
/// scipy.signal.sosfilt(sos, x, axis), in float64; every a0 must be 1 (as scipy requires).
array sosfilt(const sos_t& sos, const array& x, int axis = -1);

/// How filtfilt extends the signal at both ends (scipy's padtype; none: no extension).
enum class pad_type { odd, even, constant, none };
/// scipy.signal.filtfilt(b, a, x, axis, padtype, padlen) with method 'pad': forward, then
/// backward, from lfilter_zi scaled by the first sample; padlen defaults to
/// 3 · max(len(a), len(b)) and must be less than the axis' length.
array filtfilt(std::vector<double> b, std::vector<double> a, const array& x, int axis = -1,
               pad_type padtype = pad_type::odd, std::optional<index_t> padlen = std::nullopt);
/// scipy.signal.sosfiltfilt(sos, x, axis, padtype, padlen).
array sosfiltfilt(const sos_t& sos, const array& x, int axis = -1, pad_type padtype = pad_type::odd,
                  std::optional<index_t> padlen = std::nullopt);

/// The band a Butterworth filter passes.
enum class filter_band { lowpass, highpass, bandpass, bandstop };
/// scipy.signal.butter(order, cutoff, band, fs=fs, output='sos'): a digital Butterworth
/// filter as second-order sections, paired and ordered as scipy's zpk2sos does. `cutoff` is
/// one frequency (low and high pass) or two (band pass and stop), relative to Nyquist (0 to
/// 1) or in the units of `fs`.
sos_t butter(int order, std::vector<double> cutoff, filter_band band = filter_band::lowpass,
             std::optional<double> fs = std::nullopt);
/// The same filter as one transfer function (output='ba'): the sections multiplied out.
std::pair<std::vector<double>, std::vector<double>> butter_ba(
    int order, std::vector<double> cutoff, filter_band band = filter_band::lowpass,
    std::optional<double> fs = std::nullopt);

/// scipy.signal.lfilter_zi and sosfilt_zi: the steady-state initial state for a unit step.
std::vector<double> lfilter_zi(std::vector<double> b, std::vector<double> a);
std::vector<std::array<double, 2>> sosfilt_zi(const sos_t& sos);

}  // namespace chunkarr
