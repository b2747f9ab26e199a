#!/usr/bin/python3
"""Order statistics in `chunkarr eval` against NumPy (Debian's python3-numpy): median,
quantile, percentile and their nan forms, every method, over the same Zarr data.

The comparison is bit for bit, dtype included: chunkarr computes NumPy's virtual indexes and
interpolation in NumPy's arithmetic. Data include NaNs, infinities, ties, signed zeros and
integers whose differences wrap; chunkings include one-element chunks and edge chunks.
"""
import math
import warnings
from fractions import Fraction

import numpy as np

import cli_harness
from cli_harness import TempDirCase
import test_eval
from test_eval import evaluate

warnings.simplefilter("ignore")

METHODS = ["inverted_cdf", "averaged_inverted_cdf", "closest_observation",
           "interpolated_inverted_cdf", "hazen", "weibull", "linear", "median_unbiased",
           "normal_unbiased", "lower", "higher", "midpoint", "nearest"]
DISCRETE = {"inverted_cdf", "closest_observation", "lower", "higher", "nearest"}
QS = [0.0, 0.01, 0.25, 0.5, 0.7, 0.999, 1.0]


class Order(TempDirCase):
    write = test_eval.Eval.write  # a Zarr array of `values` in `chunks`, in the test's directory

    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(13)
        f4 = rng.normal(0, 100, size=(12, 41)).astype("f4")
        f4[3, 17] = np.nan  # a NaN: row 3 and column 17 give NaN
        f4[5, :] = np.round(f4[5, :] / 50) * 50  # ties
        f4[6, :3] = [0.0, -0.0, 0.0]
        f8 = rng.normal(0, 1, size=(12, 41))
        f8[1, 4], f8[2, 9] = np.inf, -np.inf
        i8 = rng.integers(-2**62, 2**62, size=(12, 41), dtype="i8")  # differences wrap
        self.arrays = {
            "f4": f4, "f8": f8, "i8": i8,
            "i2": rng.integers(-30000, 30000, size=(12, 41)).astype("i2"),
            "u1": rng.integers(0, 255, size=(12, 41)).astype("u1"),
            "b": rng.integers(0, 2, size=(12, 41)).astype(bool),
        }

    def compare(self, expr, expected, inputs, *flags):
        expected = np.asarray(expected)
        with self.subTest(expr=expr, flags=flags):
            got = evaluate(expr, inputs, *flags)
            self.assertEqual(got.shape, expected.shape)
            self.assertEqual(got.dtype, expected.dtype)
            np.testing.assert_array_equal(got, expected)

    def inputs(self, chunks):
        return {k: self.write(f"{k}{chunks}", v, chunks) for k, v in self.arrays.items()}

    def test_every_method_equals_numpy(self):
        inputs = self.inputs((5, 7))
        for name, v in self.arrays.items():
            for method in METHODS:
                if name == "b" and method not in DISCRETE:
                    continue  # NumPy cannot interpolate booleans (refused: test_errors)
                for axis in [0, 1, None]:
                    self.compare(f"quantile({name}, {QS}, axis={axis}, method='{method}')",
                                 np.quantile(v, QS, axis=axis, method=method), inputs)
            self.compare(f"percentile({name}, 37.5, axis=1, method='nearest')",
                         np.percentile(v, 37.5, axis=1, method="nearest"), inputs)

    def test_chunkings_axes_and_even_counts(self):
        for chunks in [(1, 1), (12, 41), (4, 10), (7, 3)]:
            inputs = self.inputs(chunks)
            for name, v in self.arrays.items():
                # Odd and even counts: 12 rows, 41 columns, and 40 of them.
                for expr_v, x in [(name, v), (f"{name}[:, 1:]", v[:, 1:])]:
                    for axis in [0, 1, None, (0, 1), -1]:
                        self.compare(f"median({expr_v}, axis={axis})", np.median(x, axis=axis),
                                     inputs)
                        if name != "b":
                            self.compare(f"percentile({expr_v}, [1, 50, 99], axis={axis})",
                                         np.percentile(x, [1, 50, 99], axis=axis), inputs)

    def test_nan_forms(self):
        v = self.arrays["f4"].copy()
        v[7, :] = np.nan  # every value of row 7
        v[:, 2] = np.nan
        v[0, ::3] = np.nan
        w = self.arrays["f8"].copy()
        w[::2, 5] = np.nan
        inputs = {"v": self.write("v", v, (5, 6)), "w": self.write("w", w, (1, 41)),
                  "i2": self.write("i2", self.arrays["i2"], (3, 3))}
        for name, x in [("v", v), ("w", w), ("i2", self.arrays["i2"])]:
            for axis in [0, 1, None]:
                self.compare(f"nanmedian({name}, axis={axis})", np.nanmedian(x, axis=axis),
                             inputs)
                for method in ["linear", "lower", "hazen", "midpoint", "closest_observation"]:
                    self.compare(f"nanquantile({name}, [0.1, 0.5, 1], axis={axis}, "
                                 f"method='{method}')",
                                 np.nanquantile(x, [0.1, 0.5, 1], axis=axis, method=method),
                                 inputs)
                self.compare(f"nanpercentile({name}, 90, axis={axis})",
                             np.nanpercentile(x, 90, axis=axis), inputs)

    def test_keepdims_3d_and_expressions(self):
        rng = np.random.default_rng(3)
        x = rng.normal(0, 1, size=(5, 6, 7)).astype("f4")
        inputs = {"x": self.write("x", x, (2, 4, 3))}
        for axis in [(0, 2), (1,), (-1, 0), None]:
            for keepdims in [False, True]:
                self.compare(f"median(x, axis={axis}, keepdims={keepdims})",
                             np.median(x, axis=axis, keepdims=keepdims), inputs)
                self.compare(f"quantile(x, [0.2, 0.8], axis={axis}, keepdims={keepdims})",
                             np.quantile(x, [0.2, 0.8], axis=axis, keepdims=keepdims), inputs)
        # The spike-detection threshold per channel, inside an expression.
        self.compare("median(abs(x), axis=2) / 0.6745",
                     np.median(np.abs(x), axis=2) / np.float32(0.6745), inputs)
        self.compare("x.mean() - percentile(x * 2, 10, interpolation='lower')",
                     x.mean() - np.percentile(x * 2, 10, method="lower"), inputs)

    def test_threads_budgets_and_intermediates(self):
        rng = np.random.default_rng(5)
        x = rng.normal(0, 1, size=(64, 3000)).astype("f4")
        inputs = {"x": self.write("x", x, (16, 256))}
        expected = np.percentile(x, [1, 50, 99], axis=1)
        # The reduced axis is read whole: a budget too small to hold the source chunks a row
        # block touches goes through a temporary rechunked copy, and every way gives the same.
        for flags in [("--threads", "1"), ("--threads", "3"), ("--memory-limit", "3MiB"),
                      ("--memory-limit", "1MiB", "--threads", "2")]:
            self.compare("percentile(x, [1, 50, 99], axis=1)", expected, inputs, *flags)
            self.compare("median(x, axis=0)", np.median(x, axis=0), inputs, *flags)

    def test_radix_selection(self):
        # Values per output element beyond what a task may hold are not gathered: they are
        # selected in passes over the input, counting digits of their bit patterns. A 1 MiB
        # limit forces that here; the results must not change, for any dtype or method.
        rng = np.random.default_rng(9)
        f4 = rng.normal(0, 1, size=(40, 3000)).astype("f4")
        f4[3, ::7] = np.nan
        f4[5, :100] = 0.0
        f4[6, :50] = -0.0
        f8 = np.round(rng.normal(0, 5, size=(40, 3000)), 1)  # many ties
        f8[0, 0], f8[1, 1] = np.inf, -np.inf
        i8 = rng.integers(-2**62, 2**62, size=(40, 3000), dtype="i8")
        u2 = rng.integers(0, 65535, size=(40, 3000)).astype("u2")
        b = rng.integers(0, 2, size=(40, 3000)).astype(bool)
        arrays = {"f4": f4, "f8": f8, "i8": i8, "u2": u2, "b": b}
        inputs = {k: self.write(k, v, (16, 256)) for k, v in arrays.items()}
        small = ("--memory-limit", "1MiB", "--threads", "2")
        for name, v in arrays.items():
            self.compare(f"median({name})", np.median(v), inputs, *small)
            self.compare(f"median({name}, axis=0)", np.median(v, axis=0), inputs, *small)
            methods = ["lower", "nearest", "inverted_cdf"] if name == "b" else METHODS
            for method in methods:
                self.compare(f"quantile({name}, {QS}, method='{method}')",
                             np.quantile(v, QS, method=method), inputs, *small)
        for expr, expected in [
                ("nanmedian(f4)", np.nanmedian(f4)),
                ("nanpercentile(f4, [0.5, 50, 99.5])", np.nanpercentile(f4, [0.5, 50, 99.5])),
                # A NaN among the values. NumPy's 0-d NaN result of an interpolating method is
                # of the input's type (its dtype there depends on the data); float64 here.
                ("percentile(f4, 50)", np.float64(np.percentile(f4, 50))),
                ("median(abs(f4), keepdims=True)", np.median(np.abs(f4), keepdims=True)),
                ("quantile(f4[4:, :2999], 0.5, axis=(0, 1), method='midpoint')",
                 np.quantile(f4[4:, :2999], 0.5, method="midpoint")),
                ("median(f4[4:] * 2, axis=(1, 0))", np.median(f4[4:] * 2))]:
            self.compare(expr, expected, inputs, *small)
        for flags in [("--memory-limit", "1MiB", "--threads", "1"),
                      ("--memory-limit", "700KiB", "--threads", "3")]:
            self.compare("percentile(f8, [1, 50, 99])", np.percentile(f8, [1, 50, 99]), inputs,
                         *flags)

    def test_histograms_equal_numpy(self):
        rng = np.random.default_rng(21)
        f4 = rng.normal(0, 10, size=(23, 37)).astype("f4")
        f4[2, 3] = 40.0  # the maximum: the last bin's right edge
        f8 = np.round(rng.normal(0, 3, size=(23, 37)), 1)  # values on many edges
        i2 = rng.integers(-500, 500, size=(23, 37)).astype("i2")
        w = rng.uniform(0, 2, size=(23, 37))
        arrays = {"f4": f4, "f8": f8, "i2": i2, "w": w}
        for chunks in [(5, 7), (1, 37), (23, 37)]:
            inputs = {k: self.write(f"{k}{chunks}", v, chunks) for k, v in arrays.items()}
            for name in ["f4", "f8", "i2"]:
                v = arrays[name]
                for args, kw in [((), {}), ((7,), {}), ((1000,), {}), ((12,), {"range": (-5.0, 5.0)}),
                                 ((3,), {"range": (0.1, 0.7)}),
                                 (([-20, -1.5, 0, 0.25, 3, 30],), {})]:
                    call = ", ".join([name] + [repr(x) for x in args] +
                                     [f"{k}={x!r}" for k, x in kw.items()])
                    counts, edges = np.histogram(v, *args, **kw)
                    self.compare(f"histogram({call})[0]", counts, inputs)
                    self.compare(f"histogram({call})[1]", edges, inputs)
                    self.compare(f"histogram_bin_edges({call})",
                                 np.histogram_bin_edges(v, *args, **kw), inputs)
                # Densities and weights: sums per chunk, then across chunks (NumPy sums in data
                # order), so within float64 rounding.
                for expr, (expected, _) in [
                        (f"histogram({name}, 9, density=True)[0]",
                         np.histogram(v, 9, density=True)),
                        (f"histogram({name}, 9, weights=w)[0]", np.histogram(v, 9, weights=w)),
                        (f"histogram({name}, [-3, 0, 3], weights=w, density=True)[0]",
                         np.histogram(v, [-3, 0, 3], weights=w, density=True))]:
                    with self.subTest(expr=expr, chunks=chunks):
                        got = evaluate(expr, inputs)
                        self.assertEqual(got.dtype, expected.dtype)
                        np.testing.assert_allclose(got, expected, rtol=1e-13)
        # NaN: left out of a given range; an autodetected range of NaN is an error.
        x = self.write("x", self.arrays["f4"], (5, 7))
        self.compare("histogram(x, 4, range=(-100.0, 100.0))[0]",
                     np.histogram(self.arrays["f4"], 4, range=(-100.0, 100.0))[0], {"x": x})
        self.assert_error(["eval", "histogram(x)[0]", "-i", f"x={x}"], 1,
                          "autodetected range of [nan, nan] is not finite")

    def test_bincount_digitize_searchsorted(self):
        rng = np.random.default_rng(41)
        k = rng.integers(0, 40, size=500).astype("i4")
        u = rng.integers(0, 7, size=500).astype("u1")
        w = rng.uniform(0, 1, size=500)
        f = rng.normal(0, 3, size=(17, 29)).astype("f4")
        f[3, 4] = np.nan
        arrays = {"k": k, "u": u, "w": w, "f": f, "m": k > 20}
        for chunks in [(7,), (1,), (500,)]:
            inputs = {name: self.write(f"{name}{chunks}", v, chunks if v.ndim == 1 else (5, 6))
                      for name, v in arrays.items()}
            for expr, expected in [
                    ("bincount(k)", np.bincount(k)), ("bincount(u, minlength=20)",
                                                      np.bincount(u, minlength=20)),
                    ("bincount(m)", np.bincount(k > 20)), ("bincount(k[:0], minlength=3)",
                                                           np.bincount(k[:0], minlength=3)),
                    ("searchsorted([-2, 0, 0, 1.5, 4], f)",
                     np.searchsorted([-2, 0, 0, 1.5, 4], f)),
                    ("searchsorted([-2, 0, 0, 1.5, 4], f, side='right')",
                     np.searchsorted([-2, 0, 0, 1.5, 4], f, side="right")),
                    ("searchsorted([1, 5, 9], k)", np.searchsorted([1, 5, 9], k)),
                    ("digitize(f, [-3, -1, 0, 2])", np.digitize(f, [-3, -1, 0, 2])),
                    ("digitize(f, [-3, -1, 0, 2], right=True)",
                     np.digitize(f, [-3, -1, 0, 2], right=True)),
                    ("digitize(f, [5, 1, 0, -4])", np.digitize(f, [5, 1, 0, -4])),
                    ("digitize(k, [30, 10, 10], True)", np.digitize(k, [30, 10, 10], True))]:
                self.compare(expr, expected, inputs)
            with self.subTest(expr="bincount(k, w)", chunks=chunks):
                got = evaluate("bincount(k, w)", inputs)
                self.assertEqual(got.dtype, np.float64)
                np.testing.assert_allclose(got, np.bincount(k, w), rtol=1e-14)

    def test_same_bits_for_any_storage(self):
        # The same values in five Zarr chunkings and an HDF5 copy: every statistic here is
        # exact, so each gives identical bits whatever the chunks (and equals NumPy's).
        rng = np.random.default_rng(33)
        v = rng.normal(0, 50, size=(48, 700)).astype("f4")
        v[7, ::9] = np.nan
        stores = [self.write(f"v{c}", v, c) for c in [(8, 100), (3, 77), (48, 700), (1, 700),
                                                       (16, 1)]]
        h5 = self.path("v.h5")
        try:
            import h5py
            with h5py.File(h5, "w") as f:
                f.create_dataset("a", data=v, chunks=(5, 64))
            probe = cli_harness.run("eval", "x.sum()", "-i", f"x={h5}:/a", check=False)
            if probe.returncode == 0:
                stores.append(f"{h5}:/a")
        except ImportError:
            pass
        w = np.where(np.isnan(v), np.float32(0), v)  # NumPy 2: float32
        for expr, expected in [
                ("nanmedian(v, axis=1)", np.nanmedian(v, axis=1)),
                ("nanquantile(v, [0.01, 0.5, 0.99], axis=0, method='hazen')",
                 np.nanquantile(v, [0.01, 0.5, 0.99], axis=0, method="hazen")),
                ("median(where(isnan(v), 0, v))", np.median(w)),
                ("histogram(v, 50, range=(-100.0, 100.0))[0]",
                 np.histogram(v, 50, range=(-100.0, 100.0))[0]),
                ("ptp(where(isnan(v), 0, v), axis=0)", np.ptp(w, axis=0)),
                ("count_nonzero(v > 10, axis=1)", np.count_nonzero(v > 10, axis=1)),
                ("nanargmax(v, axis=1)", np.nanargmax(v, axis=1))]:
            results = []
            for store in stores:
                for flags in [(), ("--memory-limit", "2MiB", "--threads", "3")]:
                    with self.subTest(expr=expr, store=store, flags=flags):
                        got = evaluate(expr, {"v": store}, *flags)
                        results.append(got.tobytes())
                        self.assertEqual(got.dtype, expected.dtype)
                        np.testing.assert_array_equal(got, expected)
            self.assertEqual(len(set(results)), 1, expr)

    def test_errors(self):
        x = self.write("x", self.arrays["f8"], (5, 7))
        b = self.write("b", self.arrays["b"], (5, 7))
        for expr, needle in [
                ("quantile(x, 1.5)", "quantiles must be in the range [0, 1], not 1.5"),
                ("percentile(x, [5, -1])", "percentiles must be in the range [0, 100], not -1"),
                ("quantile(x, 0.5, method='bogus')", "'bogus' is not a method"),
                ("quantile(b, 0.5)", "method 'linear' interpolates, which booleans cannot"),
                ("median(x, axis=2)", "axis 2 is out of bounds"),
                ("median(x, axis=(1, 1))", "duplicate value in 'axis'"),
                ("quantile(x[:0], 0.5, axis=0)", "no values to take a quantile of"),
                ("quantile(x, [])", "q is empty"),
                ("median(x, out=x)", "out= is not supported"),
                ("quantile(x, 0.5, method='linear', interpolation='lower')", "both given"),
                ("median(x, colour=1)", "unexpected keyword argument 'colour'"),
                ("histogram(x, 0)", "`bins` must be positive"),
                ("histogram(x, 5, range=(2, 1))", "max must be larger than min"),
                ("histogram(x, [3, 1, 2])", "bins must increase monotonically"),
                ("histogram(x, 5, weights=x[0])", "weights of shape (41,) for values of shape"),
                ("histogram(x, 'auto')", "bins by name"),
                ("histogram(b)", "booleans have no bins"),
                ("nanargmin(x[:2] * nan, axis=1)", "nanargmin: All-NaN slice encountered"),
                ("ptp(b)", "ptp(): booleans cannot be subtracted"),
                ("average(x, weights=x[0])", "axis must be given"),
                ("average(x, axis=1, weights=x[:, 0])", "length of weights (12) differs"),
                ("bincount(x[0])", "cannot cast float64 to int64 safely"),
                ("bincount(x.astype('i4') - 100)", "takes a 1-d array"),
                ("bincount(x[0].astype('i4') - 100)", "must be non-negative, not"),
                ("searchsorted([3, 1], x)", "must be sorted"),
                ("digitize(x, [1, 3, 2])", "monotonically increasing or decreasing")]:
            with self.subTest(expr=expr):
                self.assert_error(["eval", expr, "-i", f"x={x}", "-i", f"b={b}"], 1, needle)


class Sorting(TempDirCase):
    """sort, argsort, partition, argpartition (NumPy's, kind='stable' for ties) and dask's
    topk and argtopk, against NumPy on several dtypes, chunkings and axes."""
    write = test_eval.Eval.write

    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(23)
        f4 = np.round(rng.normal(0, 3, size=(13, 57)), 1).astype("f4")  # ties
        f4[2, [3, 9, 40]] = np.nan
        f4[4, :4] = [0.0, -0.0, 0.0, -0.0]
        f4[5, 7], f4[6, 8] = np.inf, -np.inf
        self.arrays = {
            "f4": f4,
            "f8": rng.normal(0, 1, size=(13, 57)),
            "i8": rng.integers(-2**62, 2**62, size=(13, 57), dtype="i8"),
            "u1": rng.integers(0, 6, size=(13, 57)).astype("u1"),
            "b": rng.integers(0, 2, size=(13, 57)).astype(bool),
        }

    def check(self, expr, expected, inputs, *flags):
        expected = np.asarray(expected)
        with self.subTest(expr=expr, flags=flags):
            got = evaluate(expr, inputs, *flags)
            self.assertEqual(got.dtype, expected.dtype)
            self.assertEqual(got.shape, expected.shape)
            self.assertEqual(got.tobytes(), expected.tobytes())  # NaN, -0.0 and order included

    def test_sort_and_argsort_equal_numpy(self):
        for chunks in [(13, 57), (4, 10), (1, 1), (5, 57)]:
            inputs = {k: self.write(f"{k}{chunks}", v, chunks) for k, v in self.arrays.items()}
            for k, v in self.arrays.items():
                for axis, text in [(-1, ""), (0, ", axis=0"), (None, ", axis=None")]:
                    self.check(f"sort(x{text})", np.sort(v, axis=axis, kind="stable"),
                               {"x": inputs[k]})
                    self.check(f"argsort(x{text})", np.argsort(v, axis=axis, kind="stable"),
                               {"x": inputs[k]})
        x = {"x": self.write("x3", self.arrays["f4"].reshape(13, 3, 19), (5, 2, 7))}
        v3 = self.arrays["f4"].reshape(13, 3, 19)
        for axis in (0, 1, 2, -2):
            self.check(f"sort(x, axis={axis}, kind='mergesort')",
                       np.sort(v3, axis=axis, kind="stable"), x)
            self.check(f"argsort(x, {axis})", np.argsort(v3, axis=axis, kind="stable"), x)
        self.check("sort(x[0] * 2 - 1)", np.sort(v3[0] * np.float32(2) - 1, kind="stable"), x)
        self.check("sort(x, axis=1)", np.sort(v3, axis=1, kind="stable"), x, "--memory-limit",
                   "1MiB", "--threads", "3")

    def test_partition(self):
        v = self.arrays["f8"]
        x = {"x": self.write("p", v, (4, 10))}
        for kth, axis in [(5, -1), ((0, 12), 0), (-1, 1), ([3, 30], None)]:
            kth_text = str(kth) if not isinstance(kth, list) else str(tuple(kth))
            axis_text = "None" if axis is None else str(axis)
            got = evaluate(f"partition(x, {kth_text}, axis={axis_text})", x)
            want = np.partition(v, kth, axis=axis)
            ks = [kth] if isinstance(kth, int) else list(kth)
            for k in ks:  # what NumPy promises: each kth value in its sorted place
                np.testing.assert_array_equal(np.take(got, k, axis=-1 if axis is None else axis),
                                              np.take(want, k, axis=-1 if axis is None else axis))
            idx = evaluate(f"argpartition(x, {kth_text}, axis={axis_text})", x)
            flat = v.ravel() if axis is None else v
            np.testing.assert_array_equal(
                np.take_along_axis(flat, idx, axis=-1 if axis is None else axis), got)

    def test_topk_and_argtopk_as_dask(self):
        import dask.array as da
        for chunks in [(13, 57), (4, 10), (13, 3), (2, 1)]:
            inputs = {k: self.write(f"t{k}{chunks}", v, chunks) for k, v in self.arrays.items()
                      if k != "b"}
            for k, v in self.arrays.items():
                if k == "b":
                    continue
                d = da.from_array(v, chunks=chunks)
                for kk, axis in [(5, -1), (-4, -1), (3, 0), (57, 1), (-13, 0), (1, 1)]:
                    n = v.shape[axis]
                    if kk > 0:  # the k largest, largest first; of equal ones the first first
                        desc = np.flip(np.sort(np.flip(v, axis=axis), axis=axis, kind="stable"),
                                       axis=axis)
                        want = np.take(desc, range(kk), axis=axis)
                    else:
                        want = np.take(np.sort(v, axis=axis, kind="stable"), range(-kk),
                                       axis=axis)
                    self.check(f"topk(x, {kk}, axis={axis})", want, {"x": inputs[k]})
                    idx = evaluate(f"argtopk(x, {kk}, axis={axis})", {"x": inputs[k]})
                    np.testing.assert_array_equal(np.take_along_axis(v, idx, axis=axis), want)
                    if k == "f8":  # no ties, no NaN: dask's own result
                        np.testing.assert_array_equal(
                            want, da.topk(d, kk, axis=axis).compute())
                        self.assertLess(abs(kk), n + 1)
        # Ties: the first index of equal values.
        t = np.array([3, 1, 3, 2, 3, 1], dtype="i4")
        x = {"x": self.write("ties", t, (4,))}
        self.check("argtopk(x, 3)", np.array([0, 2, 4]), x)
        self.check("argtopk(x, -2)", np.array([1, 5]), x)

    def test_errors(self):
        x = self.write("e", self.arrays["f4"], (4, 10))
        for expr, needle in [
                ("sort(x, axis=2)", "axis 2 is out of bounds"),
                ("sort(x, kind='bogo')", "kind must be"),
                ("sort(x, order='f')", "order= (fields of a structured array)"),
                ("partition(x, 57)", "kth(=57) out of bounds (57)"),
                ("partition(x, -58)", "kth(=-58) out of bounds (57)"),
                ("partition(x, 1, kind='quicksort')", "kind must be 'introselect'"),
                ("topk(x, 0)", "k=0 is out of range"),
                ("topk(x, 58)", "k=58 is out of range for an axis of 57 values"),
                ("argtopk(x, -14, axis=0)", "k=-14 is out of range"),
                ("sort(x[0, 0])", "out of bounds for a 0-d array"),
                ("sort(x, 1, 'stable', None, 5)", "too many arguments")]:
            with self.subTest(expr=expr):
                self.assert_error(["eval", expr, "-i", f"x={x}"], 1, needle)


def exact_sum(values):
    """The exact sum of finite floats or integers, as a Fraction."""
    return sum((Fraction(v) for v in values.ravel().tolist()), Fraction(0))


def exact_var(values, ddof=0):
    xs = [Fraction(v) for v in values.ravel().tolist()]
    m = sum(xs, Fraction(0)) / len(xs)
    return sum(((x - m) ** 2 for x in xs), Fraction(0)) / (len(xs) - ddof)


def ulps(got, exact):
    """How many units in the last place of float64 `got` is from the Fraction `exact`."""
    if abs(exact) > Fraction(np.finfo("f8").max):
        return 0 if got == (math.inf if exact > 0 else -math.inf) else math.inf  # as NumPy
    want = float(exact)
    return abs(float(Fraction(float(got)) - exact)) / np.spacing(abs(want)) if want else abs(got)


class ExactSums(TempDirCase):
    """sum, mean, var and std accumulate exactly: the same bits for any chunking, storage,
    thread count and budget, and the correctly rounded sum (checked against Python's
    math.fsum and exact fractions)."""
    write = test_eval.Eval.write

    def test_exact_against_fractions(self):
        rng = np.random.default_rng(17)
        # 120 binades, signed zeros and a large pair that cancels (a double's sum is exact
        # within 2^269, its squares' within 2^134).
        wide = np.ldexp(rng.uniform(-1, 1, size=(9, 301)), rng.integers(-60, 60, size=(9, 301)))
        wide[0, 0], wide[4, 100], wide[3, 3] = 1e18, -1e18, -0.0
        ints = rng.integers(-2**31, 2**31, size=(9, 301), dtype="i8").astype("i4")
        f4 = (rng.normal(0, 1, size=(9, 301)) * np.exp2(rng.integers(-30, 30, (9, 301))))
        f4 = f4.astype("f4")
        for name, v in [("wide", wide), ("ints", ints), ("f4", f4)]:
            for chunks in [(9, 301), (2, 17), (1, 301), (9, 1)]:
                store = {"v": self.write(f"{name}{chunks}", v, chunks)}
                with self.subTest(data=name, chunks=chunks):
                    got = evaluate("sum(v.astype('f8'))", store)
                    self.assertEqual(got, math.fsum(v.astype("f8").ravel()))  # correctly rounded
                    rows = evaluate("sum(v.astype('f8'), axis=1)", store)
                    self.assertEqual(rows.tolist(), [math.fsum(r) for r in v.astype("f8")])
                    if v.dtype == np.float32:
                        # float32's sum: the exact sum rounded to double, then to float32.
                        self.assertEqual(evaluate("sum(v)", store),
                                         np.float32(float(exact_sum(v))))
                    mean = evaluate("mean(v.astype('f8'))", store)
                    self.assertLessEqual(ulps(mean, exact_sum(v) / v.size), 0.5001)
                    for ddof in (0, 1):
                        var = evaluate(f"var(v.astype('f8'), ddof={ddof})", store)
                        self.assertLessEqual(ulps(var, exact_var(v, ddof)), 1.0)
                    cols = evaluate("var(v.astype('f8'), axis=0)", store)
                    for j in range(0, v.shape[1], 37):
                        self.assertLessEqual(ulps(cols[j], exact_var(v[:, j])), 1.0)

    def test_same_bits_for_any_storage(self):
        rng = np.random.default_rng(34)
        v = (rng.normal(30, 50, size=(48, 700))).astype("f4")
        v[7, ::9] = np.nan
        v[20, 5] = 1e-42  # a subnormal
        w = rng.uniform(0, 2, size=700)
        i2 = rng.integers(-3000, 3000, size=(48, 700)).astype("i2")
        chunkings = [(8, 100), (3, 77), (48, 700), (1, 700), (16, 1)]
        stores = {"f4": [self.write(f"v{c}", v, c) for c in chunkings],
                  "i2": [self.write(f"i{c}", i2, c) for c in chunkings]}
        try:
            import h5py
            h5 = self.path("v.h5")
            with h5py.File(h5, "w") as f:
                f.create_dataset("f4", data=v, chunks=(5, 64))
                f.create_dataset("i2", data=i2, chunks=(7, 100))
            if cli_harness.run("eval", "x.sum()", "-i", f"x={h5}:/f4", check=False).returncode == 0:
                stores["f4"].append(f"{h5}:/f4")
                stores["i2"].append(f"{h5}:/i2")
        except ImportError:
            pass
        clean = np.where(np.isnan(v), 0, v).astype("f8")
        exprs = [
            ("nansum(v.astype('f8'))", np.nansum(v.astype("f8")), 1e-12),
            ("nansum(v, axis=0)", np.nansum(v.astype("f8"), axis=0), 1e-5),
            ("nanvar(v)", np.nanvar(v.astype("f8")), 1e-6),
            ("sum(v, axis=1)", np.sum(v.astype("f8"), axis=1), 1e-5),
            ("nanmean(v.astype('f8'), axis=1)", np.nanmean(v.astype("f8"), axis=1), 1e-12),
            ("mean(where(isnan(v), 0, v) * 3.5)", np.mean(clean * np.float32(3.5)), 1e-6),
            ("nanvar(v.astype('f8'), axis=0, ddof=1)", np.nanvar(v.astype("f8"), axis=0, ddof=1), 1e-12),
            ("nanstd(v.astype('f8'))", np.nanstd(v.astype("f8")), 1e-12),
            ("var(v, axis=1)", np.var(v.astype("f8"), axis=1), 1e-6),
            ("std(where(isnan(v), 0, v), axis=(0, 1))", np.std(clean), 1e-6),
            ("average(where(isnan(v), 0, v), axis=1, weights=w)",
             np.average(clean, axis=1, weights=w), 1e-6),
        ]
        int_exprs = [
            ("mean(v)", np.mean(i2), 1e-12),
            ("var(v, axis=0)", np.var(i2.astype("f8"), axis=0), 1e-12),
            ("std(v, axis=1, ddof=1)", np.std(i2.astype("f8"), axis=1, ddof=1), 1e-12),
            ("sum(v, axis=0)", np.sum(i2, axis=0), 0),
        ]
        weights = self.write("w", w, (64,))
        for kind, cases in [("f4", exprs), ("i2", int_exprs)]:
            for expr, expected, rtol in cases:
                results = set()
                for store in stores[kind]:
                    for flags in [(), ("--memory-limit", "4MiB", "--threads", "3")]:
                        with self.subTest(expr=expr, store=store, flags=flags):
                            got = evaluate(expr, {"v": store, "w": weights}, *flags)
                            results.add(got.tobytes())
                            np.testing.assert_allclose(got, expected, rtol=rtol)
                self.assertEqual(len(results), 1, expr)


if __name__ == "__main__":
    cli_harness.main()
