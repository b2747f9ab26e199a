#!/usr/bin/python3
"""The chunkarr command line: info, cat and copy output; exit statuses; error messages;
--help on every command; copies that fail leave nothing that looks complete."""
import json
import os
import shutil

import numcodecs
import numpy as np
import zarr

import cli_harness
from cli_harness import TempDirCase, cat_json, run


class Info(TempDirCase):
    def test_array_fields_match_what_is_on_disk(self):
        path = self.path("a.zarr")
        z = zarr.open(path, mode="w", shape=(100, 30), chunks=(16, 8), dtype=">i2",
                      compressor=numcodecs.Zstd(level=3), fill_value=-1)
        z[:50] = np.arange(1500).reshape(50, 30)
        info = json.loads(run("info", path, "--json").stdout)
        stored = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
        self.assertEqual(info["shape"], [100, 30])
        self.assertEqual(info["dtype"], ">i2")
        self.assertEqual(info["chunks"], [16, 8])
        self.assertEqual(info["chunk_grid"], [7, 4])
        self.assertEqual(info["chunk_count"], 28)
        self.assertEqual(info["chunks_stored"], z.nchunks_initialized)
        self.assertEqual(info["codec"], "zstd:3")
        self.assertEqual(info["fill_value"], -1)
        self.assertEqual(info["order"], "C")
        self.assertEqual(info["nbytes"], 100 * 30 * 2)
        self.assertEqual(info["stored_bytes"], stored)
        self.assertAlmostEqual(info["ratio"], 6000 / stored)
        text = run("info", path).stdout
        for needle in ["(100, 30)", "int16 (>i2)", "(16, 8)", "zstd:3", f"{z.nchunks_initialized} of 28"]:
            self.assertIn(needle, text)

    def test_sample_group_tree(self):
        sample = os.path.join(cli_harness.SAMPLES, "2018_12_11_experiment_5.zarr")
        text = run("info", sample).stdout
        for needle in ["recordings/", "lfp", "(16, 30000) float32", "timestamps", "channels/"]:
            self.assertIn(needle, text)
        info = json.loads(run("info", sample, "--json").stdout)
        names = [c["name"] for c in info["children"]]
        self.assertEqual(names, ["channels", "recordings"])


class Cat(TempDirCase):
    def test_text_matches_numpy_print(self):
        cases = [np.arange(12, dtype="<i4").reshape(3, 4) - 5,
                 np.array([True, False, True]),
                 np.arange(24, dtype="|u1").reshape(2, 3, 4),
                 np.array([0.0, 1.5, 2.25, -3.0], dtype="<f8"),
                 np.array([[1e-5, 1.0], [3.0, 1e5]], dtype="<f4"),
                 np.array([np.nan, np.inf, -np.inf, 1.0]),
                 np.arange(5000, dtype="<i8").reshape(50, 100),  # summarised
                 np.linspace(0, 1, 2000).reshape(2, 1000),
                 np.arange(20000, dtype="<i2").reshape(10, 20, 100)]
        for i, values in enumerate(cases):
            with self.subTest(i=i, dtype=values.dtype.str, shape=values.shape):
                path = self.path(f"t{i}.zarr")
                zarr.open(path, mode="w", shape=values.shape, chunks=(7,) * values.ndim,
                          dtype=values.dtype)[:] = values
                self.assertEqual(run("cat", path).stdout, str(values) + "\n")

    def test_json_format(self):
        path = self.path("j.zarr")
        values = np.array([[0.1, np.nan], [np.inf, -np.inf], [-0.0, 1e300]], dtype="<f8")
        zarr.open(path, mode="w", shape=values.shape, chunks=(2, 1), dtype="<f8")[:] = values
        out = run("cat", path, "--json").stdout
        self.assertEqual(out.count("\n"), 1)
        doc = json.loads(out)
        self.assertEqual(doc, {"shape": [3, 2], "dtype": "<f8",
                               "data": [0.1, "NaN", "Infinity", "-Infinity", -0.0, 1e300]})
        self.assertIn("0.1,", out)  # shortest round-trip form
        f32 = self.path("f32.zarr")
        zarr.open(f32, mode="w", shape=(2,), chunks=(2,), dtype="<f4")[:] = [0.1, 3.0]
        self.assertIn('"data": [0.1, 3.0]', run("cat", f32, "--json").stdout)
        b = self.path("b.zarr")
        zarr.open(b, mode="w", shape=(2,), chunks=(1,), dtype="|b1")[:] = [True, False]
        self.assertEqual(cat_json(b)["data"], [True, False])

    def test_inside_a_group_and_streaming_large_arrays(self):
        root = zarr.open_group(self.path("g.zarr"), mode="w")
        values = np.random.default_rng(1).integers(0, 1000, size=(3000, 70), dtype="<u4")
        root.create_group("rec").create_dataset("big", data=values, chunks=(256, 16))
        doc = cat_json(self.path("g.zarr/rec/big"))
        np.testing.assert_array_equal(np.array(doc["data"], dtype="<u4").reshape(3000, 70), values)


class Copy(TempDirCase):
    def make_source(self, name="src.zarr", shape=(40, 30), chunks=(8, 8)):
        path = self.path(name)
        z = zarr.open(path, mode="w", shape=shape, chunks=chunks, dtype="<f8")
        z[:] = np.arange(np.prod(shape), dtype="<f8").reshape(shape)
        return path, z[:]

    def test_refuses_existing_destination_without_overwrite(self):
        src, values = self.make_source()
        dst, old = self.make_source("dst.zarr", shape=(3,), chunks=(3,))
        self.assert_error(["copy", src, dst], 1, dst, "--overwrite")
        np.testing.assert_array_equal(zarr.open(dst, mode="r")[:], old)  # untouched
        run("copy", src, dst, "--overwrite", "--chunks", "10,10")
        np.testing.assert_array_equal(zarr.open(dst, mode="r")[:], values)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["dst.zarr", "src.zarr"])

    def test_failure_midway_leaves_nothing_that_looks_complete(self):
        src, _ = self.make_source()
        with open(os.path.join(src, "3.1"), "wb") as f:
            f.write(b"\x02\x01garbage that is not a blosc frame")
        dst = self.path("dst.zarr")
        self.assert_error(["copy", src, dst], 1, "3.1")
        self.assertEqual(sorted(os.listdir(self.tmp)), ["src.zarr"])  # no dst, no staging
        # With --overwrite, the old destination survives a failed copy.
        good, values = self.make_source("good.zarr", shape=(4,), chunks=(2,))
        self.assert_error(["copy", src, good, "--overwrite"], 1, "3.1")
        np.testing.assert_array_equal(zarr.open(good, mode="r")[:], values)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["good.zarr", "src.zarr"])

    def test_thread_counts_write_identical_files(self):
        src, values = self.make_source(shape=(45, 37), chunks=(8, 6))
        outputs = []
        for threads in [1, 2, 3, 8]:
            dst = self.path(f"t{threads}.zarr")
            run("copy", src, dst, "--threads", threads, "--chunks", "5,11", "--codec", "zstd:3")
            np.testing.assert_array_equal(zarr.open(dst, mode="r")[:], values)
            files = {}
            for name in sorted(os.listdir(dst)):
                if name == ".zattrs":  # provenance: the time it was made differs
                    continue
                with open(os.path.join(dst, name), "rb") as f:
                    files[name] = f.read()
            outputs.append(files)
        self.assertEqual(len(outputs[0]), 1 + 9 * 4)  # .zarray + a 9x4 grid
        for other in outputs[1:]:
            self.assertEqual(other, outputs[0])

    def test_progress_only_when_asked(self):
        src, _ = self.make_source()
        quiet = run("copy", src, self.path("a.zarr"))
        self.assertEqual(quiet.stderr, "")
        loud = run("copy", src, self.path("b.zarr"), "--progress")
        self.assertIn("20/20 tasks", loud.stderr)  # a 5x4 grid
        self.assertEqual(run("copy", src, self.path("c.zarr"), "--no-progress").stderr, "")


class LargerThanMemory(TempDirCase):
    """Results and rechunks several times the memory limit go through disk, not memory."""

    def wide(self, name, shape, chunks):
        path = self.path(name)
        values = (np.arange(np.prod(shape), dtype="<f4").reshape(shape) % 1013) * 0.37 - 11
        z = zarr.open(path, mode="w", shape=shape, chunks=chunks, dtype="<f4")
        z[:] = values
        return path, values

    def test_reduction_result_four_times_the_limit_spills_bit_identical(self):
        # The mean over axis 0 is 8 MiB of float64 (its exact states 300 MiB): 4x a 2 MiB
        # limit. Chunks of 2048 columns keep one task's states (600 KiB) within it.
        src, values = self.wide("wide.zarr", (8, 1048576), (4, 2048))
        spill = self.path("spill")
        os.mkdir(spill)
        small = self.path("small.zarr")
        big = self.path("big.zarr")
        run("eval", "mean(a.astype('f8'), axis=0)", "-i", f"a={src}", "-o", small,
            "--memory-limit", "2MiB", "--temp-dir", spill)
        run("eval", "mean(a.astype('f8'), axis=0)", "-i", f"a={src}", "-o", big,
            "--memory-limit", "512MiB")
        a, b = zarr.open(small, mode="r")[:], zarr.open(big, mode="r")[:]
        self.assertEqual(a.tobytes(), b.tobytes())  # bit-identical
        np.testing.assert_allclose(a, values.astype("f8").mean(axis=0), rtol=1e-12)
        # The mean is read again by every output chunk: it spills to --temp-dir and back.
        run("eval", "a - a.mean(axis=0, keepdims=True)", "-i", f"a={src}", "-o",
            self.path("anomaly_small.zarr"), "--memory-limit", "2MiB", "--temp-dir", spill)
        run("eval", "a - a.mean(axis=0, keepdims=True)", "-i", f"a={src}", "-o",
            self.path("anomaly_big.zarr"), "--memory-limit", "512MiB")
        self.assertEqual(zarr.open(self.path("anomaly_small.zarr"), mode="r")[:].tobytes(),
                         zarr.open(self.path("anomaly_big.zarr"), mode="r")[:].tobytes())
        self.assertEqual(os.listdir(spill), [])  # the spilled result is removed
        # Printing needs the result in memory: refused with the limit named.
        self.assert_error(["eval", "mean(a, axis=0)", "-i", f"a={src}", "--memory-limit",
                           "2MiB"], 1, "memory limit")

    def test_copy_between_row_and_column_strips_within_the_limit(self):
        src, values = self.wide("rows.zarr", (512, 8192), (1, 8192))
        spill = self.path("spill")
        os.mkdir(spill)
        for threads in ["1", "2"]:
            cols = self.path(f"cols{threads}.zarr")
            run("copy", src, cols, "--chunks", "512,16", "--memory-limit", "2MiB",
                "--temp-dir", spill, "--threads", threads)
            np.testing.assert_array_equal(zarr.open(cols, mode="r")[:], values)
            self.assertEqual(os.listdir(spill), [])
            back = self.path(f"back{threads}.zarr")
            run("copy", cols, back, "--chunks", "1,8192", "--memory-limit", "2MiB",
                "--temp-dir", spill, "--threads", threads)
            np.testing.assert_array_equal(zarr.open(back, mode="r")[:], values)
        for name in os.listdir(self.path("cols1.zarr")):
            if name == ".zattrs":  # provenance: the time it was made differs
                continue
            with open(os.path.join(self.path("cols1.zarr"), name), "rb") as f, \
                    open(os.path.join(self.path("cols2.zarr"), name), "rb") as g:
                self.assertEqual(f.read(), g.read(), name)

    def test_copy_leaves_missing_chunks_missing(self):
        path = self.path("sparse.zarr")
        z = zarr.open(path, mode="w", shape=(100, 100), chunks=(10, 10), dtype="<i2",
                      fill_value=7)
        z[20:30, 40:50] = 1
        dst = self.path("copy.zarr")
        run("copy", path, dst, "--chunks", "20,20")
        out = zarr.open(dst, mode="r")
        np.testing.assert_array_equal(out[:], z[:])
        self.assertEqual(out.nchunks_initialized, 1)  # only (1, 2) holds anything but 7


class ErrorsAndUsage(TempDirCase):
    def test_help_everywhere(self):
        for args in [["--help"], ["info", "--help"], ["cat", "--help"], ["copy", "--help"],
                     ["convert", "--help"], ["eval", "--help"], ["graph", "--help"]]:
            with self.subTest(args=args):
                p = run(*args)
                self.assertIn("Usage", p.stdout)
        self.assertIn("--chunks", run("copy", "--help").stdout)
        self.assertIn("--json", run("cat", "--help").stdout)
        self.assertIn("--skip-unsupported", run("convert", "--help").stdout)
        self.assertIn("convert", run("--help").stdout)
        self.assertTrue(run("--version").stdout.strip())

    def test_usage_errors_exit_2(self):
        src = self.path("s.zarr")
        zarr.open(src, mode="w", shape=(4, 4), chunks=(2, 2), dtype="<f8")
        for args in [[], ["frobnicate"], ["info"], ["info", src, "--bogus"],
                     ["copy", src], ["copy", src, self.path("d"), "--chunks", "0,5"],
                     ["copy", src, self.path("d"), "--chunks", "a,b"],
                     ["copy", src, self.path("d"), "--chunks", "2"],
                     ["copy", src, self.path("d"), "--codec", "lzma"],
                     ["copy", src, self.path("d"), "--codec", "blosc:lz4:11"],
                     ["copy", src, self.path("d"), "--order", "X"],
                     ["copy", src, self.path("d"), "--separator", "-"],
                     ["copy", src, self.path("d"), "--threads", "0"],
                     ["copy", src, src, "--overwrite"],
                     ["copy", src, "memory://scratch/x"],
                     ["eval", "a", "-i", f"a={src}", "-o", "memory://scratch/x"],
                     ["copy", src, os.path.join(src, "inner")]]:
            with self.subTest(args=args):
                p = run(*args, check=False)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertTrue(p.stderr.strip())
        self.assertEqual(sorted(os.listdir(src)), [".zarray"])  # the source survived

    def write_array(self, name, **kwargs):
        path = self.path(name)
        z = zarr.open(path, mode="w", **kwargs)
        z[...] = 1
        return path

    def patch_zarray(self, path, **fields):
        with open(os.path.join(path, ".zarray")) as f:
            meta = json.load(f)
        for k, v in fields.items():
            if v is None:
                meta.pop(k, None)
            else:
                meta[k] = v
        with open(os.path.join(path, ".zarray"), "w") as f:
            json.dump(meta, f)

    def test_bad_data_exits_1_with_one_line_naming_the_cause(self):
        missing = self.path("nope.zarr")
        self.assert_error(["info", missing], 1, missing, "no such file")
        self.assert_error(["cat", missing], 1, missing)
        os.makedirs(self.path("plain"))
        self.assert_error(["info", self.path("plain")], 1, "not a Zarr array or group")

        a = self.write_array("trunc.zarr", shape=(10, 10), chunks=(5, 5), dtype="<f4")
        with open(os.path.join(a, "1.0"), "r+b") as f:
            f.truncate(10)
        self.assert_error(["cat", a], 1, os.path.join(a, "1.0"))
        p = self.assert_error(["cat", a, "--json"], 1, "1.0")
        self.assertEqual(p.stdout, "")  # never half a JSON document

        b = self.write_array("corrupt.zarr", shape=(10,), chunks=(5,), dtype="<f8",
                             compressor=numcodecs.Zlib(1))
        with open(os.path.join(b, "0"), "wb") as f:
            f.write(os.urandom(40))
        self.assert_error(["cat", b], 1, os.path.join(b, "0"), "zlib")

        c = self.write_array("size.zarr", shape=(10,), chunks=(5,), dtype="<f8", compressor=None)
        with open(os.path.join(c, "1"), "wb") as f:
            f.write(b"\0" * 24)
        self.assert_error(["cat", c], 1, os.path.join(c, "1"), "expected 40")

        cases = [
            (dict(dtype="<M8[ns]"), "datetime"), (dict(dtype="|S5"), "strings"),
            (dict(dtype=[["a", "<f4"]]), "structured"), (dict(dtype="<f2"), "float16"),
            (dict(compressor={"id": "lzma"}), "lzma"),
            (dict(filters=[{"id": "delta", "dtype": "<f8"}]), "delta"),
            (dict(shape=[2**62, 2**62]), "overflow"), (dict(shape=[-3, 4]), "negative"),
            (dict(chunks=[0, 5]), "positive"), (dict(chunks=[1 << 20, 1 << 20]), "2 GiB"),
            (dict(zarr_format=3), "zarr_format"), (dict(order="Z"), "order"),
            (dict(fill_value="banana"), "fill_value"), (dict(shape=None), "shape"),
        ]
        for i, (fields, needle) in enumerate(cases):
            with self.subTest(fields=fields):
                path = self.write_array(f"m{i}.zarr", shape=(4, 5), chunks=(2, 5), dtype="<f8")
                self.patch_zarray(path, **fields)
                for cmd in ["info", "cat"]:
                    self.assert_error([cmd, path], 1, os.path.join(path, ".zarray"), needle)
        # Values a wrong reader would accept: fill values just past the dtype's range (read as
        # INT64_MIN or 0), codec integers that would be truncated.
        blosc = {"id": "blosc", "cname": "lz4", "clevel": 2**40, "shuffle": 1, "blocksize": 0}
        for i, (dtype, fields, needle) in enumerate([
                ("<i8", dict(fill_value=9.223372036854776e18), "out of range"),
                ("<i8", dict(fill_value=-9.3e18), "out of range"),
                ("<u8", dict(fill_value=2**64), "out of range"),
                ("<u8", dict(fill_value=1.8446744073709552e19), "out of range"),
                ("<f8", dict(compressor=blosc), "out of range")]):
            with self.subTest(dtype=dtype, fields=fields):
                path = self.write_array(f"v{i}.zarr", shape=(4,), chunks=(2,), dtype=dtype)
                self.patch_zarray(path, **fields)
                self.assert_error(["cat", path], 1, os.path.join(path, ".zarray"), needle)
        ok = self.write_array("edge.zarr", shape=(4,), chunks=(2,), dtype="<i8")
        self.patch_zarray(ok, fill_value=-9.223372036854776e18)  # exactly INT64_MIN: fine
        self.assertEqual(zarr.open(ok, mode="r").fill_value, -2**63)
        run("cat", ok)
        deep = self.write_array("deep.zarr", shape=(2,), chunks=(2,), dtype="<f8")
        with open(os.path.join(deep, ".zattrs"), "w") as f:
            f.write('{"a": ' + "[" * 20000 + "]" * 20000 + "}")
        self.assert_error(["info", deep], 1, ".zattrs", "nested more than 512 levels")
        self.assert_error(["copy", deep, self.path("deep2.zarr")], 1, ".zattrs")
        # A child whose name is no key (zarr-python reads `a\b` as `a/b`) is not listed.
        weird = zarr.open_group(self.path("weird.zarr"), mode="w")
        weird.create_dataset("x", shape=(2,), dtype="<f8")
        shutil.copytree(self.path("weird.zarr/x"), self.path("weird.zarr/a\\b"))
        self.assertIn("x  (2,)", run("info", self.path("weird.zarr")).stdout)

        bad_json = self.write_array("j.zarr", shape=(2,), chunks=(2,), dtype="<f8")
        with open(os.path.join(bad_json, ".zarray"), "w") as f:
            f.write('{"zarr_format": 2, "shape": [2,')
        self.assert_error(["info", bad_json], 1, ".zarray", "malformed JSON")

        g = zarr.open_group(self.path("grp.zarr"), mode="w")
        g.create_dataset("x", shape=(2,), dtype="<f8")
        self.assert_error(["cat", self.path("grp.zarr")], 1, "group", "grp.zarr/x")


if __name__ == "__main__":
    cli_harness.main()
