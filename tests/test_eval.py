#!/usr/bin/python3
"""`chunkarr eval` against NumPy: the same expressions over the same Zarr data, compared
value for value (NumPy run with NEP 50 promotion, as chunkarr follows NumPy 2).

Inputs cover dtypes, misaligned and size-1 chunks, edge chunks and broadcasting; the
expressions cover every operator, function, reduction and indexing form the language has.
"""
import json
import os
import warnings

import numpy as np
import zarr

import cli_harness
from cli_harness import TempDirCase, run

np._set_promotion_state("weak")  # NEP 50, NumPy 2's rules
warnings.simplefilter("ignore")  # NumPy's divide-by-zero and invalid-value warnings

SPECIAL = {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}


def evaluate(expr, inputs, *flags):
    args = ["eval", "--json", *flags]
    for name, path in inputs.items():
        args += ["-i", f"{name}={path}"]
    args += ["--", expr]  # an expression may start with '-'

    doc = json.loads(run(*args).stdout)
    data = [SPECIAL.get(v, v) if isinstance(v, str) else v for v in doc["data"]]
    return np.array(data, dtype=np.dtype(doc["dtype"])).reshape(doc["shape"])


class Eval(TempDirCase):
    def write(self, name, values, chunks):
        path = self.path(f"{name}.zarr")
        zarr.open(path, mode="w", shape=values.shape, chunks=chunks, dtype=values.dtype)[:] = values
        return path

    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(7)
        self.values = {
            "a": (rng.normal(0, 10, size=(37, 23)).astype("f4"), (8, 5)),
            "b": (rng.normal(0, 10, size=(37, 23)), (10, 23)),  # float64, other chunks
            "i": (rng.integers(-50, 50, size=(37, 23)).astype("i4"), (37, 1)),
            "u": (rng.integers(0, 255, size=(37, 23)).astype("u1"), (5, 7)),
            "m": (rng.integers(0, 2, size=(37, 23)).astype(bool), (6, 6)),
            "r": (rng.normal(size=(23,)).astype("f4"), (7,)),  # broadcasts along rows
            "c": (rng.normal(size=(37, 1)), (4, 1)),            # broadcasts along columns
            "t": (rng.normal(size=(4, 6, 5)).astype("f4"), (3, 4, 2)),
            "w": (rng.integers(-999, 999, size=(6, 4, 10)).astype("i2"), (4, 3, 3)),
            "z": (np.arange(240, dtype="u8"), (7,)),  # 1-d, chunks misaligned with any split
            # Index arrays: repeated, negative and unsorted; masks along axis 0 and axis 1.
            "idx": (np.array([3, -2, 3, 0, 36, 17, 5, 5, 12], dtype="i8"), (4,)),
            "mask": (rng.integers(0, 2, size=37).astype(bool), (10,)),
            "mask23": (rng.integers(0, 2, size=23).astype(bool), (23,)),
        }
        self.values["a"][0][3, 4] = np.nan
        self.inputs = {k: self.write(k, v, c) for k, (v, c) in self.values.items()}
        self.ns = {k: v for k, (v, _) in self.values.items()}

    def check(self, expr, numpy_expr=None, *flags, exact=False):
        with self.subTest(expr=expr):
            expected = np.asarray(eval(numpy_expr or expr, {"np": np, **vars(np)}, self.ns))
            got = evaluate(expr, self.inputs, *flags)
            self.assertEqual(got.shape, expected.shape)
            self.assertEqual(got.dtype, expected.dtype, f"{expr}: dtype")
            if exact or expected.dtype.kind in "biu":
                np.testing.assert_array_equal(got, expected)
            else:
                tight = 1e-5 if expected.dtype == np.float32 else 1e-12
                np.testing.assert_allclose(got, expected, rtol=tight, atol=tight, equal_nan=True)

    def test_arithmetic_and_promotion(self):
        for expr in ["a + b", "a - 1", "2 * a", "a / 3", "i / 2", "i // 7", "i % 7", "-i // 7",
                     "a // 3", "a % -3", "i ** 2", "a ** 2", "u + 1", "u * 2", "u + i",
                     "i * 1.5", "m + m", "m * i", "a * r", "c - a", "a + c + r", "-a", "~m",
                     "~i", "i & 12", "u | 3", "m ^ True", "(a + b) * (a - b) / 7",
                     "a + 2 ** 3", "-a ** 2", "u - 200", "i.astype('u1')", "a.astype('i2')",
                     "b.astype(np.float32)", "m.astype('f8')", "a.astype(bool)"]:
            self.check(expr)

    def test_comparisons_and_logic(self):
        for expr in ["a > 0", "a <= b", "i == 3", "i != u", "0 < a", "-1 < a < 1",
                     "(a > 0) & (b < 0)", "(a > 0) | m", "where(m, i, u)", "where(a > b, 1, 2.5)"]:
            numpy_expr = "(-1 < a) & (a < 1)" if expr == "-1 < a < 1" else None
            self.check(expr, numpy_expr)
        # NEP 50 makes the scalar weak; NumPy 1.24's np.where does not, so spell it out there.
        self.check("where(a > 0, a, 0)", "where(a > 0, a, np.float32(0))")


    def test_computed_python_scalars_stay_weak(self):
        # An operation over Python scalars only gives a Python scalar, still weak (NEP 50), so
        # an int32 array keeps its dtype. These segfaulted in promote_nodes.
        for expr in ["i + 2*3", "2*3 + i", "i > 2*3", "~5 + i", "i - 7 // 2", "i + 2*3.0",
                     "a + 2*3.0"]:
            self.check(expr)
        # chunkarr keeps abs() and where() over Python scalars weak; NumPy's ufunc and np.where
        # return strong NumPy scalars (int64 here), so spell out the weak reading.
        self.check("abs(-5) + i", "5 + i")
        self.check("where(True, 5, 6) + i", "5 + i")
        # NumPy 1.24's np.where does not take weak scalars (see test_comparisons_and_logic).
        self.check("where(i > 0, i, 2*3)", "where(i > 0, i, np.int32(6))")

    def test_functions(self):
        for fn in ["abs", "sqrt", "cbrt", "exp", "expm1", "log", "log1p", "log10", "log2", "sin", "cos",
                   "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "floor", "ceil",
                   "trunc", "sign", "isnan", "isinf", "isfinite"]:
            arg = "a / 100" if fn in ("arcsin", "arccos", "sinh", "cosh", "exp", "expm1") else "a"
            self.check(f"{fn}({arg})")
            self.check(f"np.{fn}(b / 100)")
        self.check("sqrt(i)")  # integers become float64
        self.check("cbrt(i)")
        self.check("np.cbrt(-a)")  # the real root of negatives, not pow's NaN
        self.check("abs(i)")
        self.check("maximum(a, b)")
        self.check("minimum(a, 0)")
        self.check("clip(a, -5, 5)")
        self.check("clip(i, -5, 5)")
        self.check("power(a, 2)")

    def test_reductions(self):
        for fn in ["sum", "prod", "mean", "var", "std", "min", "max", "nansum", "nanmean",
                   "nanvar", "nanstd", "nanmin", "nanmax"]:
            for args in ["", ", axis=0", ", axis=1", ", axis=(0, 1)", ", axis=-1, keepdims=True"]:
                src = "b / 10" if fn == "prod" else "a"
                self.check(f"{fn}({src}{args})")
        for fn in ["sum", "mean", "min", "max", "any", "all", "argmin", "argmax", "var"]:
            for args in ["", ", axis=0", ", axis=1"]:
                for src in ["i", "u", "m", "b"]:
                    if fn in ("any", "all") and src not in ("m", "i"):
                        continue
                    self.check(f"{fn}({src}{args})")
        self.check("a.std(axis=0, ddof=1)")
        self.check("var(b, ddof=2)")
        self.check("t.sum(axis=(0, 2))")
        self.check("t.mean(axis=(2, 0), keepdims=True)")
        self.check("t.argmax(axis=1)")
        self.check("t.argmin()")
        self.check("b.argmax()")
        self.check("argmax(a)")  # NaN wins, as in NumPy
        for fn in ["nanargmin", "nanargmax", "ptp", "count_nonzero"]:
            for args in ["", ", axis=0", ", axis=1"]:
                for src in ["a", "i", "u"] + (["m"] if fn == "count_nonzero" else []):
                    self.check(f"{fn}({src}{args})")
        self.check("ptp(t, axis=(0, 2), keepdims=True)")
        self.check("count_nonzero(a > 1, axis=1, keepdims=True)")
        for expr in ["average(a)", "average(i, axis=0)", "average(a, weights=b)",
                     "average(i, axis=1, weights=u)", "average(b, axis=0, weights=u[:, 0])",
                     "average(a, axis=(0, 1), weights=b, keepdims=True)"]:
            self.check(expr)

    def test_indexing(self):
        for expr in ["a[0]", "a[-1, 3]", "a[5:20]", "a[:, 3:9]", "a[::3, ::2]", "a[::-1]",
                     "a[30:5:-4, -1:-10:-2]", "a[..., 0]", "a[None]", "a[:, None, 2:4]",
                     "t[1, ..., ::-2]", "t[..., None, 1]", "a.T", "t.transpose(2, 0, 1)",
                     "t.T[1:3]", "a[100:]", "(a * 2)[::5, 1:4]", "a.T[::2] + 1",
                     "b[:, 1:].sum(axis=0)"]:
            self.check(expr)

    def test_joining(self):
        # Operands of different dtypes (promoted) and chunkings; empty operands; regions that
        # cross operands (slices, transposes, reductions over the joined axis).
        for expr in ["concatenate([a, b])", "concatenate((a, i, u), axis=1)",
                     "concatenate([u, m, i], axis=-1)", "concatenate([a[:5], a[5:], a[:0]])",
                     "concatenate((a[3:9], b[:1], a[30:]), axis=0)", "concatenate([a, a])",
                     "concatenate([t, t[:, :2]], axis=1)", "concatenate([r, r[::-1], r[:1]])",
                     "concatenate([a, b], axis=1)[::3, 20:30] * 2", "concatenate([a, b]).T",
                     "concatenate([a, b]).mean(axis=0)", "concatenate([i, u], axis=1).sum(axis=1)",
                     "stack([a, b, i])", "stack([a, b], axis=1)", "stack((a, i), axis=-1)",
                     "stack([r, r * 2])", "stack([a, b])[:, 10:20].std(axis=0)",
                     "hstack([a, c])", "hstack([r, r])", "vstack([a, r])", "vstack([r, r])",
                     "dstack([a, b])", "dstack([r, r])", "block([[a, c], [b, c]])",
                     "block([a, b])", "block([[t], [t]])", "expand_dims(a, 1)",
                     "expand_dims(r, -1)", "atleast_3d(r)", "atleast_2d(r)", "atleast_1d(a)",
                     "np.concatenate([a, b], axis=0)"]:
            self.check(expr)

    def test_rearranging(self):
        for expr in ["squeeze(c)", "squeeze(a[None, :, 2:3])", "squeeze(t[:, :1], axis=1)",
                     "a[None].squeeze(axis=0)", "swapaxes(t, 0, 2)", "t.swapaxes(-1, 1)",
                     "moveaxis(t, 0, -1)", "moveaxis(t, (0, 1), (2, 0))", "flip(a)",
                     "flip(t, axis=1)", "flip(t, (0, 2))", "flip(r)", "roll(a, 5, axis=0)",
                     "roll(a, -3, axis=1)", "roll(t, (1, -2), axis=(0, 2))",
                     "roll(r, 100, axis=0)", "roll(a, 2, axis=(0, 0))",
                     "broadcast_to(r, (37, 23))", "broadcast_to(c, (37, 23)) + a",
                     "broadcast_to(a[:1], (5, 37, 23))", "broadcast_to(u[3, 4], (3, 2))",
                     "broadcast_to(m[:, :1], (2, 37, 40)).sum(axis=2)",
                     "tile(r, 3)", "tile(a, (2, 1))", "tile(t, (2, 1, 3))", "tile(r, (2, 2))",
                     "pad(a, 2)", "pad(a, ((1, 2), (3, 0)), constant_values=-1)",
                     "pad(i, (2, 3), mode='edge')", "pad(a, 5, mode='reflect')",
                     "pad(r, 50, mode='reflect')",
                     "pad(t, ((1, 1), (7, 2), (0, 11)), mode='symmetric')",
                     "pad(u, 40, mode='wrap')", "pad(m, 1)", "pad(c, (3, 40), mode='reflect')",
                     "pad(b, ((0, 0), (30, 1)), mode='edge')",
                     "pad(a, 3, mode='reflect').mean(axis=0)", "roll(a, 4, axis=1)[::2] * 2"]:
            self.check(expr)

    def test_reshape(self):
        # Merges and splits, with chunks that must be rechunked (misaligned, trailing axes cut)
        # or need not be, -1, length-1 axes, 0-d and empty, and selections around them.
        for expr in ["a.reshape(-1)", "ravel(a)", "a.flatten()", "a.reshape(23, 37)",
                     "reshape(a, (37, 23, 1))", "a.reshape((1, 851))", "b.reshape(37 * 23)",
                     "t.reshape(24, 5)", "t.reshape(4, 30)", "t.reshape(2, 2, 3, 2, 5)",
                     "t.reshape(120)", "t.reshape(5, 24)", "t.reshape(-1, 6)",
                     "w.reshape(24, 10)", "w.reshape(6, 40)", "w.reshape(3, 2, 2, 2, 10)",
                     "w.reshape(240)", "w.reshape(8, 30)", "w.reshape(240, 1, 1)",
                     "z.reshape(12, 20)", "z.reshape(2, 3, 4, 10)", "z.reshape(-1, 48)",
                     "z.reshape(240, 1)", "z.reshape(16, 15).T.reshape(-1)",
                     "z.reshape(4, 60)[1:3, ::7]", "z.reshape(6, 40).sum(axis=1)",
                     "z.reshape(2, 120).reshape(8, 30)[:, 3]", "t[1:3].reshape(2, 30)",
                     "t.T.reshape(30, 4)", "a[::-1, 3].reshape(-1, 1)", "a[5, 5].reshape(1, 1)",
                     "a[5, 5].reshape(())", "a[:0].reshape(0, 5)", "(i.reshape(-1) * 2)[100:300]",
                     "m.reshape(23, 37)", "u.reshape(851).reshape(37, 23) + u",
                     "roll(a, 40)", "roll(t, (3, 4))", "take(a, [0, 500, -1])",
                     "compress([True, False, True, False], t)", "concatenate([a, r], axis=None)",
                     "a.reshape(37, 23).ravel()[::-1]", "repeat(a, 3, axis=0)",
                     "repeat(a, 2, axis=1)[5:30:4]", "repeat(t, (1, 0, 2, 3), axis=0)",
                     "repeat(r, 3)", "repeat(t, 2)", "a.repeat(2, axis=-1)",
                     "repeat(w, 5, axis=1).sum(axis=1)", "repeat(m[:2], [0, 2], axis=0)",
                     "repeat(u, 0, axis=1)",
                     "repeat(z, 1)"]:
            self.check(expr)
        # Tight budgets: the rechunks reshape asks for go through the planner's intermediate.
        for expr in ["w.reshape(240)", "z.reshape(12, 20)", "a.reshape(23, 37)"]:
            self.check(expr, None, "--memory-limit", "64KiB", "--threads", "1")

    def test_creation(self):
        # NumPy's creation functions; chunks= is chunkarr's (dask's) and changes no value.
        for expr in ["arange(10)", "arange(2, 11, 3)", "arange(10, 0, -3)", "arange(0.5, 3, 0.25)",
                     "arange(5, dtype='f4')", "arange(1, 7, chunks=4)", "arange(0)",
                     "linspace(0, 1, 11)", "linspace(-3, 7, 7, endpoint=False)",
                     "linspace(2, 2, 1)", "linspace(0, 1, 0)", "linspace(0, 10, 5, dtype='i4')",
                     "eye(4)", "eye(3, 5, k=1)", "eye(5, 3, k=-2, dtype='i2')", "eye(4, k=9)",
                     "identity(3, dtype=bool)", "tri(4)", "tri(3, 5, 2)", "tri(5, 2, k=-1)",
                     "indices((3, 4))", "indices((2, 3, 2), dtype='i2')", "zeros((3, 4))",
                     "ones(5, dtype='u1')", "full((2, 3), 7)", "full((2, 3), 2.5)",
                     "full(4, True)", "zeros_like(a)", "ones_like(i)", "full_like(a, 3)",
                     "zeros_like(t, dtype='i8')", "a + eye(37, 23, chunks=(5, 5))",
                     "(arange(23) * r).sum()", "indices((37, 23))[1] + a",
                     "linspace(0, 1, 1000001, chunks=4096)[::100000]",
                     "meshgrid(r, z[:5])[0]", "meshgrid(r, z[:5], indexing='ij')[1] * 2",
                     "meshgrid(r, z[:4], idx)[-1]", "meshgrid(a[0])[0] + 1"]:
            numpy_expr = expr.replace(", chunks=4096", "").replace(", chunks=4", "").replace(
                ", chunks=(5, 5)", "")
            self.check(expr, numpy_expr, exact=True)

    def test_creation_errors(self):
        t = f"t={self.inputs['t']}"
        cases = [
            (["arange(0, 10, 0)", "-i", t], "step must not be zero"),
            (["eye(-1)", "-i", t], "negative dimensions"),
            (["linspace(0, 1, -2)", "-i", t], "negative dimensions"),
            (["zeros((2, 3), chunks=(2,))", "-i", t], "do not match shape"),
            (["full((2, 3))", "-i", t], "missing argument 'fill_value'"),
            (["ones((2, 3), dtype='f3')", "-i", t], "f3"),
            (["arange(nan)", "-i", t], "finite"),
            (["zeros((2, 3), order='F')", "-i", t], "unexpected keyword argument 'order'"),
            (["meshgrid(t[0, 0], t[0, 1])[2]", "-i", t], "tuple index 2 out of range"),
            (["meshgrid(t[0, 0], indexing='xx')[0]", "-i", t], "indexing must be 'xy' or 'ij'"),
            (["meshgrid(t[0, 0], t[0, 1])", "-i", t], "tuple"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                self.assert_error(["eval", *args], 1, needle)

    def test_random(self):
        # Counter-based: the same seed gives the same values whatever the chunks and threads.
        for expr in ["random(42).normal(0, 1, (37, 23))", "random(42).random((37, 23), dtype='f4')",
                     "random(7).integers(-5, 9, (37, 23), dtype='i2')", "random(7).poisson(4.5, 301)",
                     "random(7).poisson(120, (5, 61))", "random(2**62 + 1).uniform(-1, 3, (3, 4, 5))",
                     "random(0).integers(2, size=(7, 9), dtype=bool)"]:
            with self.subTest(expr=expr):
                base = evaluate(expr, {})
                chunkings = {1: ["64", "1", "300"], 2: ["(5, 7)", "(1, 23)", "(37, 1)"],
                             3: ["(2, 2, 2)", "(3, 1, 5)", "(1, 4, 1)"]}[base.ndim]
                for chunks, threads in zip(chunkings, ["1", "3", "2"]):
                    again = evaluate(expr[:-1] + f", chunks={chunks})", {}, "--threads", threads)
                    np.testing.assert_array_equal(again, base)
                # A slice is the whole's values at its indices; a (37, 23) array is the flat
                # (851,) one reshaped (the value is a function of the flat C-order index).
                if "(37, 23)" in expr:
                    flat = expr.replace("(37, 23)", "851")
                    np.testing.assert_array_equal(evaluate(flat, {}).reshape(37, 23), base)
                    np.testing.assert_array_equal(evaluate(expr + "[3::4, ::-5]", {}), base[3::4, ::-5])
        # NumPy's spelling; other seeds differ.
        np.testing.assert_array_equal(evaluate("np.random.default_rng(3).standard_normal((4, 5))", {}),
                                      evaluate("random(3).normal(size=(4, 5))", {}))
        self.assertFalse(np.array_equal(evaluate("random(3).random(50)", {}),
                                        evaluate("random(4).random(50)", {})))
        # Distributions: moments of 200 000 draws.
        x = evaluate("random(11).normal(10, 2, 200000)", {})
        self.assertAlmostEqual(x.mean(), 10, delta=0.02)
        self.assertAlmostEqual(x.std(), 2, delta=0.02)
        k = evaluate("random(11).poisson(3.5, 200000)", {})
        self.assertEqual(k.dtype, np.int64)
        self.assertAlmostEqual(k.mean(), 3.5, delta=0.03)
        self.assertAlmostEqual(k.var(), 3.5, delta=0.1)
        n = evaluate("random(11).integers(0, 10, 200000, dtype='u1')", {})
        self.assertEqual(sorted(set(n.tolist())), list(range(10)))
        # Stored to Zarr, as zarr-python reads it.
        out = self.path("random.zarr")
        run("eval", "random(5).normal(0, 1, (300, 200), chunks=(64, 64))", "-o", out)
        np.testing.assert_array_equal(zarr.open(out, mode="r")[:],
                                      evaluate("random(5).normal(0, 1, (300, 200))", {}))

    def test_random_follows_the_documented_philox_scheme(self):
        # An independent Philox4x32-10 (Salmon et al. 2011) in Python: element i of
        # distribution d takes words 2(i%2), 2(i%2)+1 of philox({i//2, 0, d}, seed).
        def philox(counter, key):
            c, k = list(counter), list(key)
            for r in range(10):
                if r:
                    k = [(k[0] + 0x9E3779B9) & 0xFFFFFFFF, (k[1] + 0xBB67AE85) & 0xFFFFFFFF]
                p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
                c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k[1], p0 & 0xFFFFFFFF]
            return c

        seed, start = 0xDEADBEEF12345, 2**33 + 3
        key = [seed & 0xFFFFFFFF, seed >> 32]
        got = evaluate(f"random({seed}).random(2**40)[{start}:{start + 6}]", {})
        got32 = evaluate(f"random({seed}).random(2**40, dtype='f4')[{start}:{start + 6}]", {})
        ints = evaluate(f"random({seed}).integers(-1000, 1000, 2**40)[{start}:{start + 6}]", {})
        for n, i in enumerate(range(start, start + 6)):
            j = i % 2
            w = philox([(i // 2) & 0xFFFFFFFF, (i // 2) >> 32, 0, 0], key)
            bits = w[2 * j] << 32 | w[2 * j + 1]
            self.assertEqual(got[n], (bits >> 11) * 2.0**-53)
            self.assertEqual(got32[n], np.float32((w[2 * j] >> 8) * 2.0**-24))
            w = philox([(i // 2) & 0xFFFFFFFF, (i // 2) >> 32, 0, 2], key)
            bits = w[2 * j] << 32 | w[2 * j + 1]
            m = bits * 2000  # Lemire: the high word, unless the low one is below the threshold
            if (m & (2**64 - 1)) >= (2**64 - 2000) % 2000:
                self.assertEqual(ints[n], -1000 + (m >> 64))

    def test_random_errors(self):
        cases = [
            (["random(1).normal(0, -1, 3)"], "random.normal(): scale -1 is negative"),
            (["random(1).integers(0, 300, 3, dtype='u1')"], "out of bounds for uint8"),
            (["random(1).integers(5, 5, 3)"], "low >= high"),
            (["random(1).random(3, dtype='i4')"], "not supported"),
            (["random(1).poisson(-2, 3)"], "lam -2"),
            (["random(-1).random(3)"], "non-negative"),
            (["random(1).random((3, 4), chunks=(2,))"], "do not match shape"),
            (["random(1).normal(0, 1, 3, order='F')"], "unexpected keyword argument 'order'"),
            (["random(1).gamma(2, 3)"], "has no attribute 'gamma'"),
            (["random(1) + 2"], "Generator"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                self.assert_error(["eval", *args], 1, needle)

    def test_reshape_errors(self):
        t = f"t={self.inputs['t']}"
        cases = [
            (["t.reshape(7, -1)", "-i", t], "cannot reshape array of size 120 (shape (4, 6, 5)) into shape (7, -1)"),
            (["t.reshape(5, 5)", "-i", t], "into shape (5, 5)"),
            (["t.reshape(-1, -1)", "-i", t], "only specify one unknown dimension"),
            (["t.reshape(-2, 60)", "-i", t], "negative dimensions"),
            (["repeat(t, -1)", "-i", t], "negative dimensions"),
            (["repeat(t, (1, 2), axis=0)", "-i", t], "could not be broadcast together with shape (4,) (2,)"),
            (["repeat(t, 2, axis=3)", "-i", t], "out of bounds"),
            (["t.reshape(2.5, 48)", "-i", t], "integer"),
            (["t.reshape()", "-i", t], "missing argument 'shape'"),
            (["reshape(t, (120,), order='F')", "-i", t], "unexpected keyword argument 'order'"),
            (["t.reshape(4611686018427387904, 4)", "-i", t], "cannot reshape"),
            # An axis past int's range is an error, not one wrapped into range.
            (["t.sum(axis=4294967296)", "-i", t], "4294967296 is out of range"),
            (["swapaxes(t, 0, 4294967296 + 1)", "-i", t], "out of range"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                self.assert_error(["eval", *args], 1, needle)

    def test_integer_and_boolean_indexing(self):
        # idx and mask are inputs too (Zarr arrays), as channels/good is beside lfp.
        for expr in ["a[[0, 2, 5]]", "a[[-1, 0, 0, 36, 3]]", "a[:, [22, 1, 1, 7]]",
                     "a[3:30:2, [5, 4, 3]]", "t[1, [3, 0], ::-1]", "t[..., [4, 0]]",
                     "a[None, :, [2, 3]]", "a[idx]", "b[:, idx[1:4]] * 2", "i[mask]",
                     "u[:, mask23]", "a[:, a.std(axis=0) > 9]", "a[a.mean(axis=1) > 0, 2:9]",
                     "t[[True, False, True, True]]", "a[[], :]", "a[[5, 1, 30]].sum(axis=0)",
                     "take(a, [3, 1], axis=1)", "take(a, idx, axis=0)", "take(r, idx[:3])", "compress(mask, b, axis=0)",
                     "compress(mask23[:5], t[0], axis=-1)", "a[idx][:, [0, 22]]",
                     "concatenate([a[[1]], b[[2, 3]]])", "a[1 + 1]",
                     "a[2 * 3:40 - 10:1 + 1, -(1 + 1)]", "a[[2 * 3, 4]]",
                     # Masks of several axes: a[a > 0] is 1-D in C order, as NumPy's.
                     "a[a > 0]", "i[m]", "t[t > 0]", "w[w % 3 == 0]", "(a[m & (a > 0)] * 2).sum()",
                     "t[t[..., 0] > 0]", "t[1:, t[0] > 0]", "u[u > 200]", "b[b == b]",
                     "extract(i > 0, a)", "extract(i, u)", "extract(m, b.ravel())",
                     # Several index arrays: pointwise, broadcast together, as NumPy.
                     "a[[0, 2, 5, -1, 2], [1, 1, 3, 0, 22]]", "t[[0, 3, 3], [5, 1, 0]]",
                     "t[[0, 3], [5, 1], 2:4]", "t[[1, 2], [0, 0], 4]", "t[[3], [1, 2, 5], [0]]",
                     "a[i[0] % 37, i[1] % 23]", "w[idx % 6, idx % 4] + 1"]:
            self.check(expr)

    def test_indexing_errors(self):
        a = f"a={self.inputs['a']}"
        m = f"mask={self.inputs['mask']}"
        cases = [
            (["a[[40]]", "-i", a], "out of bounds"),
            (["a[:, [0, 1], [1, 2]]", "-i", a], "leading subscripts"),
            (["a[[0, 1], [1, 2, 3]]", "-i", a], "do not broadcast"),
            (["a[[0, 40], [1, 2]]", "-i", a], "index 40 is out of bounds for axis 0"),
            (["a[[0, 1], [1, 2], [0, 0]]", "-i", a], "3 index arrays for an array of shape (37, 23)"),
            (["a[[0, 1], [0.5, 2]]", "-i", a], "integers"),
            (["a[[True, False]]", "-i", a], "did not match"),
            (["a[a[:, :5] > 0]", "-i", a], "did not match indexed array along axis 1"),
            (["a[1, a > 0]", "-i", a], "too many indices"),
            (["extract(a[:5] > 0, a)", "-i", a], "differ in size"),
            (["a[:, mask]", "-i", a, "-i", m], "did not match"),
            (["a[[0.5]]", "-i", a], "integers or booleans"),
            (["a[a[0]]", "-i", a], "must be integers"),
            (["a[1.5]", "-i", a], "indices must be integers"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                self.assert_error(["eval", *args], 1, needle)

    def test_rearranging_errors(self):
        a = f"a={self.inputs['a']}"
        t = f"t={self.inputs['t']}"
        r = f"r={self.inputs['r']}"
        cases = [
            (["squeeze(a, axis=0)", "-i", a], "size not equal to one"),
            (["broadcast_to(a, (5, 22))", "-i", a], "could not be broadcast"),
            (["pad(a, -1)", "-i", a], "negative"),
            (["pad(a, 2, mode='median')", "-i", a], "mode must be"),
            (["pad(a[:0], 2, mode='edge')", "-i", a], "empty axis"),
            (["pad(a, 2, mode='edge', constant_values=3)", "-i", a], "constant_values"),
            (["moveaxis(t, (0, 1), 2)", "-i", t], "same number"),
            (["swapaxes(t, 0, 3)", "-i", t], "out of bounds"),
            (["flip(a, (0, 0))", "-i", a], "repeated axis"),
            (["pad(r, 200000, mode='reflect')", "-i", r], "pieces"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                self.assert_error(["eval", *args], 1, needle)

    def test_joining_errors(self):
        a = f"a={self.inputs['a']}"
        r = f"r={self.inputs['r']}"
        t = f"t={self.inputs['t']}"
        cases = [
            (["concatenate([a, r])", "-i", a, "-i", r], "(37, 23)"),
            (["concatenate([a, t], axis=1)", "-i", a, "-i", t], "dimension(s)"),
            (["concatenate([a, a[:, :3]])", "-i", a], "along dimension 1"),
            (["concatenate([a, a], axis=2)", "-i", a], "axis 2 is out of bounds"),
            (["stack([a, a], axis=None)", "-i", a], "axis=None"),
            (["concatenate([])", "-i", a], "need at least one array"),
            (["concatenate(a)", "-i", a], "list or tuple"),
            (["concatenate([a[0, 0], a[0, 1]])", "-i", a], "zero-dimensional"),
            (["stack([a, a.T])", "-i", a], "same shape"),
            (["block([[a, a], a])", "-i", a], "depths are mismatched"),
            (["concatenate([a, a], axes=0)", "-i", a], "unexpected keyword argument 'axes'"),
            (["concatenate([a, a", "-i", a], "column"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                self.assert_error(["eval", *args], 1, needle)

    def test_two_pass_and_nested(self):
        self.check("((b*1000 - mean(b*1000, axis=0))**2).mean(axis=0)")
        self.check("a - a.mean(axis=0)")
        self.check("(a - a.mean(axis=1, keepdims=True)) / a.std(axis=1, keepdims=True)")
        self.check("mean(mean(t, axis=0), axis=0)")
        self.check("b.sum() + b.mean()")

    def test_results_identical_for_any_thread_count_and_budget(self):
        exprs = ["sum(b)", "mean(a, axis=0)", "var(b, axis=1)", "std(t)", "argmax(b, axis=0)"]
        for expr in exprs:
            with self.subTest(expr=expr):
                outputs = set()
                for threads in ["1", "2", "4"]:
                    for limit in ["64KiB", "64MiB"]:
                        p = run("eval", expr, "--json", "--threads", threads,
                                "--memory-limit", limit,
                                *sum((["-i", f"{k}={v}"] for k, v in self.inputs.items()), []))
                        outputs.add(p.stdout)
                self.assertEqual(len(outputs), 1, outputs)

    def test_store_output(self):
        out = self.path("out.zarr")
        p = run("eval", "sqrt(abs(b)) * 2 + 1", "-i", f"b={self.inputs['b']}", "-o", out,
                "--chunks", "16,16", "--codec", "zstd:3")
        self.assertEqual(p.stdout, "")
        z = zarr.open(out, mode="r")
        self.assertEqual(z.chunks, (16, 16))
        self.assertEqual(z.compressor.get_config()["id"], "zstd")
        np.testing.assert_allclose(z[:], np.sqrt(np.abs(self.ns["b"])) * 2 + 1, rtol=1e-12)
        # Refuses to replace without --overwrite; replaces with it.
        self.assert_error(["eval", "b + 1", "-i", f"b={self.inputs['b']}", "-o", out], 1,
                          "--overwrite")
        run("eval", "b.sum(axis=0)", "-i", f"b={self.inputs['b']}", "-o", out, "--overwrite")
        np.testing.assert_allclose(zarr.open(out, mode="r")[:], self.ns["b"].sum(axis=0))

    def test_text_output_matches_numpy_print(self):
        p = run("eval", "i[:4, :5] * 2", "-i", f"i={self.inputs['i']}")
        self.assertEqual(p.stdout, str(self.ns["i"][:4, :5] * 2) + "\n")

    def test_errors(self):
        a = f"a={self.inputs['a']}"
        t = f"t={self.inputs['t']}"
        cases = [
            (["mean(a,, 0)", "-i", a], "column 8"),
            (["a +", "-i", a], "column 4"),
            (["a[1:2", "-i", a], "column 6"),
            (["(a + 1", "-i", a], "column 7"),
            (["a $ 2", "-i", a], "column 3"),
            (["a + x", "-i", a], "unknown name 'x'"),
            (["a + t", "-i", a, "-i", t], "(37, 23) (4, 6, 5)"),
            (["a.mean(axis=2)", "-i", a], "axis 2 is out of bounds"),
            (["a[40]", "-i", a], "out of bounds"),
            (["a[0, 0, 0]", "-i", a], "too many indices"),
            (["a & 1", "-i", a], "float32"),
            (["frobnicate(a)", "-i", a], "unknown name"),
            (["mean(a, axis=0, bogus=1)", "-i", a], "bogus"),
            (["a.astype('c8')", "-i", a], "not understood"),
            (["a", "-i", f"a={self.path('missing.zarr')}"], "missing.zarr"),
            (["sum(a)", "-i", a, "--memory-limit", "200"], "memory limit"),
            (["a * 2", "-i", a, "--memory-limit", "2KiB"], "memory limit"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                self.assert_error(["eval", *args], 1, needle)
        for args in [[], ["a", "-i", "a"], ["a", "-i", "1a=x"], ["a", "-i", a, "--memory-limit", "lots"],
                     ["a", "-i", a, "--threads", "0"]]:
            with self.subTest(args=args):
                p = run("eval", *args, check=False)
                self.assertEqual(p.returncode, 2, p.stderr)

    def test_deep_expressions_are_refused_clearly_not_crashed_on(self):
        a = f"a={self.inputs['a']}"
        cases = [
            ("abs(" * 3000 + "a" + ")" * 3000, "nested more than 200 levels deep"),
            ("(" * 6000 + "a" + ")" * 6000, "nested more than 200 levels deep"),
            ("-" * 60000 + "a", "nested more than 200 levels deep"),
            ("a" + "**a" * 30000, "nested more than 200 levels deep"),
            ("+".join(["a"] * 20000), "more than 2048 operations deep"),
            ("a" + "[0:]" * 20000, "more than 2048 operations deep"),
        ]
        for expr, needle in cases:
            with self.subTest(expr=expr[:20]):
                p = self.assert_error(["eval", "-i", a, "--", expr], 1, needle)
                self.assertLess(len(p.stderr), 400)  # an excerpt, not the whole expression
        # Literals beyond float64 are what Python makes of them.
        self.check("a * 1e309", "a * np.inf")
        self.check("a + 1e-400", "a + 0.0")
        # Just under the limits: computed, equal to NumPy.
        self.check("(" * 150 + "a" + ")" * 150, "a")
        self.check("+".join(["i"] * 2000), "i * 2000")
        # Transposes compose: any number of them is one transpose (or none).
        self.check("t" + ".T" * 20001, "t.T")
        self.check("t" + ".T" * 20000, "t")

    def test_corrupt_chunk_surfaces_with_its_key(self):
        path = self.inputs["b"]
        with open(os.path.join(path, "1.0"), "wb") as f:
            f.write(b"garbage")
        self.assert_error(["eval", "b.sum()", "-i", f"b={path}"], 1, os.path.join(path, "1.0"),
                          "sum")

    def test_expression_starting_with_a_dash(self):
        # It looks like an option; chunkarr takes it as the expression it is, without `--`.
        for expr in ["-a", "-a * 2", "-1 + i"]:
            p = run("eval", expr, "-i", f"a={self.inputs['a']}", "-i", f"i={self.inputs['i']}",
                    "--json")
            doc = json.loads(p.stdout)
            expected = eval(expr, {}, self.ns)
            self.assertEqual(doc["shape"], list(expected.shape), expr)
            self.assertEqual(doc["dtype"], expected.dtype.str, expr)

    def test_graph(self):
        p = run("graph", "a - a.mean(axis=0)", "-i", f"a={self.inputs['a']}")
        self.assertTrue(p.stdout.startswith("digraph chunkarr {"))
        self.assertIn("combine mean", p.stdout)
        self.assertIn("stage 2: output", p.stdout)
        dot = self.path("g.dot")
        run("graph", "sum(a)", "-i", f"a={self.inputs['a']}", "-o", dot)
        with open(dot) as f:
            self.assertIn("combine sum", f.read())
        # An existing file is kept without --overwrite, replaced with it; no debris either way.
        self.assert_error(["graph", "a * 2", "-i", f"a={self.inputs['a']}", "-o", dot], 1,
                          "g.dot", "--overwrite")
        with open(dot) as f:
            self.assertIn("combine sum", f.read())
        run("graph", "a * 2", "-i", f"a={self.inputs['a']}", "-o", dot, "--overwrite")
        with open(dot) as f:
            self.assertNotIn("combine sum", f.read())
        self.assertEqual([n for n in os.listdir(self.tmp) if "chunkarr-" in n], [])


if __name__ == "__main__":
    cli_harness.main()
