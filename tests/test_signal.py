#!/usr/bin/python3
"""Scans, IIR filters and neighbourhood filters in `chunkarr eval` against NumPy and SciPy
(Debian's python3-scipy): the same expressions over the same Zarr data.

Chunkings include chunks of one element along the filtered axis, chunks smaller than the
filter's window or filtfilt's padding, and edge chunks. Unless a test says otherwise the
comparison is bit for bit: the scans carry their state across chunks exactly and the filters
compute in SciPy's order of operations.

chunkarr designs filters and Gaussian kernels with the C library's tan and exp. NumPy builds
for AVX-512 machines compute np.tan and np.exp with their own vector code (SVML), which can
differ in the last bit; and its complex multiply loop fuses
multiplies and adds; so SciPy runs here with the C library's tan (butter's prewarping) and exp
(Gaussian kernels) and a product of one multiply after another (the filter's gain) — the same
algorithm, the same arithmetic — and test_libm_differences bounds the difference from SciPy
with NumPy's own.
"""
import math
import warnings

import numpy as np
import zarr
from scipy import ndimage, signal

import cli_harness
from cli_harness import TempDirCase, run
import test_eval
from test_eval import evaluate

warnings.simplefilter("ignore")


class _NumpyWithLibmExp:
    """numpy, but for exp: the C library's (real arguments only)."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def exp(x):
        return np.vectorize(math.exp, otypes=[float])(x)


def _sequential_prod(a):
    """np.prod of a 1-d array, one scalar product after another (NumPy's AVX-512 complex
    multiply loop fuses them)."""
    a = np.asarray(a)
    out = a.dtype.type(1)
    for x in a.ravel():
        out = out * x
    return out


_numpy_tan, _numpy_prod = signal._filter_design.tan, signal._filter_design.prod
_ndimage_numpy = ndimage._filters.numpy


def _use_libm(on):
    if on:
        signal._filter_design.tan = np.vectorize(math.tan, otypes=[float])
        signal._filter_design.prod = _sequential_prod
        ndimage._filters.numpy = _NumpyWithLibmExp()
    else:
        signal._filter_design.tan, signal._filter_design.prod = _numpy_tan, _numpy_prod
        ndimage._filters.numpy = _ndimage_numpy


_use_libm(True)

MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]


class Signal(TempDirCase):
    write = test_eval.Eval.write  # a Zarr array of `values` in `chunks`, in the test's directory

    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(11)
        self.f4 = (rng.normal(0, 100, size=(29, 203))).astype("f4")
        self.f4[3, 17] = np.nan
        self.f8 = rng.normal(0, 100, size=(29, 203))
        self.i2 = rng.integers(-3000, 3000, size=(29, 203)).astype("i2")
        self.u1 = rng.integers(0, 255, size=(29, 203)).astype("u1")
        self.b = rng.integers(0, 2, size=(29, 203)).astype(bool)
        self.rec = (rng.normal(0, 50, size=(6, 6000))).astype("f4")  # a short recording

    def compare(self, expr, expected, inputs, *flags, rtol=0.0):
        with self.subTest(expr=expr, flags=flags):
            got = evaluate(expr, inputs, *flags)
            self.assertEqual(got.shape, expected.shape)
            self.assertEqual(got.dtype, expected.dtype)
            if rtol == 0.0:
                np.testing.assert_array_equal(got, expected)
            else:
                scale = np.nanmax(np.abs(expected)) or 1.0
                np.testing.assert_allclose(got, expected, rtol=0, atol=rtol * scale,
                                           equal_nan=True)

    def test_cumulative_operations_carry_across_chunks(self):
        arrays = {"f4": self.f4, "f8": self.f8, "i2": self.i2, "u1": self.u1, "b": self.b}
        for chunks in [(5, 7), (1, 1), (29, 203), (4, 50)]:
            inputs = {k: self.write(f"{k}{chunks}", v, chunks) for k, v in arrays.items()}
            for name, v in arrays.items():
                for fn in ["cumsum", "cumprod", "nancumsum", "nancumprod"]:
                    if fn.endswith("prod") and name in ("f4", "f8"):
                        x, expr_x = v / 50, f"{name} / 50"  # products that stay finite
                    else:
                        x, expr_x = v, name
                    for axis in [0, 1, None, -1]:
                        expected = getattr(np, fn)(x, axis=axis)
                        self.compare(f"{fn}({expr_x}, axis={axis})", expected, inputs)
        # One chunk layout, several thread counts and a budget that spills the result.
        inputs = {"f8": self.write("f8s", self.f8, (3, 11))}
        for flags in [("--threads", "1"), ("--threads", "3"), ("--memory-limit", "96KiB")]:
            self.compare("cumsum(f8, axis=1)", np.cumsum(self.f8, axis=1), inputs, *flags)

    def test_diff_and_gradient(self):
        inputs = {"f4": self.write("f4", self.f4, (5, 7)), "i2": self.write("i2", self.i2, (1, 9)),
                  "b": self.write("b", self.b, (4, 4)), "u1": self.write("u1", self.u1, (7, 3))}
        ns = {"f4": self.f4, "i2": self.i2, "b": self.b, "u1": self.u1}
        for expr in ["diff(f4)", "diff(f4, 2, axis=0)", "diff(i2, n=3, axis=1)", "diff(b, axis=0)",
                     "diff(u1)", "diff(f4, 0)", "diff(f4[:2], 5, axis=0)"]:
            self.compare(expr, eval("np." + expr, {"np": np}, ns), inputs)
        for expr, expected in [
                ("gradient(f4, axis=1)", np.gradient(self.f4, axis=1)),
                ("gradient(i2, 0.5, axis=0)", np.gradient(self.i2, 0.5, axis=0)),
                ("gradient(f4[0])", np.gradient(self.f4[0])),
                ("gradient(f4[:2, :3], axis=0)", np.gradient(self.f4[:2, :3], axis=0))]:
            self.compare(expr, expected, inputs)
        got = [evaluate(f"gradient(i2)[{k}]", inputs) for k in range(2)]
        for g, e in zip(got, np.gradient(self.i2)):
            np.testing.assert_array_equal(g, e)

    def test_butter_designs_as_scipy(self):
        for args, text in [((4, [300, 3000], "bandpass"), "4, [300, 3000], 'bandpass', fs=30000"),
                           ((5, 1000, "highpass"), "5, 1000, 'high', fs=30000"),
                           ((3, [500, 5000], "bandstop"), "3, [500, 5000], 'bandstop', fs=30000"),
                           ((8, 200, "lowpass"), "8, 200, fs=30000"),
                           ((1, 0.3, "low"), "1, 0.3")]:
            fs = 30000 if "fs" in text else None
            with self.subTest(butter=text):
                sos = signal.butter(*args, fs=fs, output="sos")
                np.testing.assert_array_equal(evaluate(f"butter({text}, output='sos')", {}), sos)
                b, a = signal.butter(*args, fs=fs)
                np.testing.assert_array_equal(evaluate(f"butter({text})[0]", {}), b)
                np.testing.assert_array_equal(evaluate(f"butter({text})[1]", {}), a)
                np.testing.assert_array_equal(
                    evaluate(f"sosfilt_zi(butter({text}, output='sos'))", {}), signal.sosfilt_zi(sos))

    def test_libm_differences(self):
        # Against SciPy with NumPy's own tan and exp: within a few units in the last place.
        _use_libm(False)
        try:
            sos = signal.butter(4, [300, 3000], "bandpass", fs=30000, output="sos")
            g = ndimage.gaussian_filter1d(self.f8, 3.0, axis=1)
        finally:
            _use_libm(True)
        got = evaluate("butter(4, [300, 3000], 'bandpass', fs=30000, output='sos')", {})
        np.testing.assert_allclose(got, sos, rtol=4e-15, atol=1e-17)
        inputs = {"f8": self.write("f8", self.f8, (5, 7))}
        np.testing.assert_allclose(evaluate("gaussian_filter1d(f8, 3.0, axis=1)", inputs), g,
                                   rtol=1e-13, atol=1e-13)

    def test_iir_filters_are_exact_across_chunks(self):
        band = "butter(4, [300, 3000], 'bandpass', fs=30000, output='sos')"
        sos = signal.butter(4, [300, 3000], "bandpass", fs=30000, output="sos")
        b, a = [1, 2, 3], [2, 0.5, 0.25]
        x = self.rec
        # 30 chunks along the filtered axis; chunks of 1 sample; chunks shorter than
        # filtfilt's padding (27 samples for this sos); one chunk.
        for chunks in [(2, 200), (6, 1), (1, 13), (6, 6000)]:
            inputs = {"x": self.write(f"rec{chunks}", x, chunks)}
            if chunks[1] == 1:
                inputs = {"x": self.write("rec-short", x[:, :120], chunks)}
            xs = zarr.open(inputs["x"], mode="r")[:]
            for axis in [1, -1, 0]:
                cases = [
                    (f"sosfilt({band}, x, axis={axis})", signal.sosfilt(sos, xs, axis=axis)),
                    (f"lfilter({b}, {a}, x, axis={axis})", signal.lfilter(b, a, xs, axis=axis)),
                ]
                if xs.shape[axis] > 9:
                    cases.append((f"filtfilt({b}, {a}, x, axis={axis})",
                                  signal.filtfilt(b, a, xs, axis=axis)))
                if xs.shape[axis] > 27:
                    cases.append((f"sosfiltfilt({band}, x, axis={axis})",
                                  signal.sosfiltfilt(sos, xs, axis=axis)))
                for expr, expected in cases:
                    self.compare(expr, expected, inputs)
        inputs = {"x": self.write("rec", x, (2, 200))}
        # Pad types and lengths, on the 30-chunk recording.
        for pad in ["'odd'", "'even'", "'constant'", "None"]:
            for padlen in ["None", "0", "500"]:
                expected = signal.sosfiltfilt(sos, x, padtype=eval(pad), padlen=eval(padlen))
                self.compare(f"sosfiltfilt({band}, x, padtype={pad}, padlen={padlen})", expected,
                             inputs)
        # Threads and a budget that spills both passes give the same bits.
        expected = signal.sosfiltfilt(sos, x)
        for flags in [("--threads", "1"), ("--threads", "4"), ("--memory-limit", "640KiB")]:
            self.compare(f"sosfiltfilt({band}, x)", expected, inputs, *flags)
        # Higher orders as one transfer function: lfilter_zi solves a 7 x 7 system, badly
        # conditioned for this filter, by an elimination that rounds differently from LAPACK's
        # recursive one: within 1e-9 of the largest value (sections, above, are exact).
        hb, ha = signal.butter(7, 0.1)
        self.compare("filtfilt(butter(7, 0.1)[0], butter(7, 0.1)[1], x)",
                     signal.filtfilt(hb, ha, x), inputs, rtol=1e-9)
        self.compare("lfilter(butter(7, 0.1)[0], butter(7, 0.1)[1], x)",
                     signal.lfilter(hb, ha, x), inputs)
        # Integer input is filtered as float64, as scipy's.
        small = {"i": self.write("i2", self.i2, (7, 10))}
        self.compare(f"sosfilt({band}, i)", signal.sosfilt(sos, self.i2), small)
        # Stored to Zarr, the result reads back in zarr-python.
        out = self.path("filtered.zarr")
        run("eval", f"sosfiltfilt({band}, x, axis=1)", "-i", f"x={inputs['x']}", "-o", out,
            "--memory-limit", "1MiB")
        np.testing.assert_array_equal(zarr.open(out, mode="r")[:], expected)

    def test_ndimage_filters_equal_scipy(self):
        for name, values in [("f4", self.f4[:, :97]), ("i2", self.i2[:, :97]),
                             ("f8", self.f8[:, :97])]:
            values = np.nan_to_num(values)
            for chunks in [(5, 7), (29, 1), (3, 97)]:
                inputs = {"x": self.write(f"{name}{chunks}", values, chunks)}
                for mode in MODES:
                    for axis in [0, 1]:
                        cases = [
                            (f"correlate1d(x, [1, 2, 0.5, -1], axis={axis}, mode='{mode}', cval=1.5)",
                             ndimage.correlate1d(values, [1, 2, 0.5, -1], axis=axis, mode=mode,
                                                 cval=1.5)),
                            (f"convolve1d(x, [1, 2, 1], axis={axis}, mode='{mode}', origin=1)",
                             ndimage.convolve1d(values, [1, 2, 1], axis=axis, mode=mode, origin=1)),
                            (f"gaussian_filter1d(x, 3.0, {axis}, mode='{mode}')",
                             ndimage.gaussian_filter1d(values, 3.0, axis, mode=mode)),
                            (f"gaussian_filter1d(x, 2.0, axis={axis}, order=2, mode='{mode}')",
                             ndimage.gaussian_filter1d(values, 2.0, axis=axis, order=2, mode=mode)),
                            (f"minimum_filter1d(x, 9, axis={axis}, mode='{mode}')",
                             ndimage.minimum_filter1d(values, 9, axis=axis, mode=mode)),
                            (f"maximum_filter1d(x, 4, axis={axis}, mode='{mode}', origin=-1)",
                             ndimage.maximum_filter1d(values, 4, axis=axis, mode=mode, origin=-1)),
                            (f"median_filter1d(x, 6, axis={axis}, mode='{mode}')",
                             ndimage.median_filter(values, size=(6, 1) if axis == 0 else (1, 6),
                                                   mode=mode)),
                        ]
                        for expr, expected in cases:
                            self.compare(expr, expected, {"x": inputs["x"]})
                        # scipy runs one sum along the whole line; chunkarr sums each window:
                        # equal within float64 rounding (exactly, once rounded to float32 or
                        # truncated to an integer).
                        expected = ndimage.uniform_filter1d(values, 8, axis=axis, mode=mode)
                        self.compare(f"uniform_filter1d(x, 8, axis={axis}, mode='{mode}')",
                                     expected, inputs, rtol=1e-14 if name == "f8" else 0.0)
        # Integer results out of the dtype's range wrap as scipy's C casts do on x86-64.
        inputs = {"x": self.write("i2wrap", self.i2[:, :40], (5, 7))}
        self.compare("correlate1d(x, [30, 30])", ndimage.correlate1d(self.i2[:, :40], [30, 30]),
                     inputs)
        # The n-d forms, and a window far longer than the chunks and the array.
        inputs = {"x": self.write("nd", self.f8[:, :40], (4, 6))}
        v = self.f8[:, :40]
        self.compare("gaussian_filter(x, (2.0, 1.5), mode='wrap')",
                     ndimage.gaussian_filter(v, (2.0, 1.5), mode="wrap"), inputs)
        self.compare("uniform_filter(x, 5, mode='nearest')",
                     ndimage.uniform_filter(v, 5, mode="nearest"), inputs, rtol=1e-14)
        self.compare("maximum_filter1d(x, 99, axis=0, mode='mirror')",
                     ndimage.maximum_filter1d(v, 99, axis=0, mode="mirror"), inputs)
        self.compare("gaussian_filter1d(x, 30.0, axis=0)",
                     ndimage.gaussian_filter1d(v, 30.0, axis=0), inputs)

    def test_threshold_crossings(self):
        t = np.random.default_rng(4).normal(size=(4, 6, 5)).astype("f4")
        inputs = {"f4": self.write("f4", self.f4, (5, 7)), "b": self.write("b", self.b, (1, 203)),
                  "t": self.write("t", t, (3, 4, 2)), "i2": self.write("i2", self.i2, (29, 3))}
        ns = {"f4": self.f4, "b": self.b, "t": t, "i2": self.i2}
        for expr in ["argwhere(f4 < -2 * std(f4))", "argwhere(b)", "argwhere(t > 1)",
                     "argwhere(i2)", "flatnonzero(b)", "flatnonzero(t > 0.5)",
                     "argwhere(f4 > 1e9)", "argwhere(f4[0] > 50)", "argwhere(i2[3, 4])",
                     "argwhere(i2[0, 0] > 5000)"]:
            expected = eval("np." + expr.replace("std(", "np.std("), {"np": np}, ns)
            self.compare(expr, expected, inputs)
        for k in range(3):
            self.compare(f"nonzero(t > 0)[{k}]", np.nonzero(t > 0)[k], inputs)
        # Streamed to Zarr, as zarr-python reads it.
        out = self.path("crossings.zarr")
        run("eval", "argwhere(f4 < -150)", "-i", f"f4={inputs['f4']}", "-o", out,
            "--memory-limit", "1MiB")
        np.testing.assert_array_equal(zarr.open(out, mode="r")[:], np.argwhere(self.f4 < -150))

    def test_errors(self):
        x = self.write("x", self.f8[:, :50], (5, 7))
        band = "butter(4, [300, 3000], 'bandpass', fs=30000, output='sos')"
        for expr, needle in [
                ("cumsum(x, axis=2)", "axis 2 is out of bounds"),
                ("sosfilt([[1, 2, 3]], x)", "shape (n_sections, 6)"),
                ("sosfilt([[1, 2, 3, 2, 0, 0]], x)", "a0 must be 1"),
                ("lfilter([1], [0, 1], x)", "a[0] must be nonzero"),
                (f"sosfiltfilt({band}, x[:, :20])", "greater than padlen, which is 27"),
                ("filtfilt([1, 2], [1, 0.5], x, padlen=-1)", "padlen -1 is negative"),
                ("butter(4, 1.5)", "0 < Wn < 1"),
                ("butter(4, [0.1, 0.2])", "takes 1 critical frequencies"),
                ("butter(4, 0.2, analog=True)", "analog filters are not supported"),
                ("correlate1d(x, [1, 2, 3], origin=2)", "invalid origin"),
                ("uniform_filter1d(x, 0)", "incorrect filter size"),
                ("gaussian_filter1d(x, -1.0)", "sigma -1"),
                ("median_filter1d(x, 3, mode='bogus')", "mode must be"),
                ("diff(x, -1)", "order must be non-negative"),
                ("gradient(x[:1], axis=0)", "at least 2 elements"),
                ("nonzero(x[0, 0])", "a 0-d array has no axes")]:
            with self.subTest(expr=expr):
                self.assert_error(["eval", expr, "-i", f"x={x}"], 1, needle)


if __name__ == "__main__":
    cli_harness.main()
