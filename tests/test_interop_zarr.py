#!/usr/bin/python3
"""Interop with zarr-python, both ways.

zarr-python (Debian's python3-zarr) writes arrays of every dtype, byte order, memory order,
compressor and chunking; `chunkarr cat --json` must print exactly what NumPy holds. Then
`chunkarr copy` writes arrays with other chunks, codecs, orders and separators; zarr-python
and dask must read them equal.
"""
import itertools
import json
import os

import numcodecs
import numpy as np
import zarr

import cli_harness
from cli_harness import TempDirCase, cat_json, run

DTYPES = ["|b1", "|i1", "<i2", ">i2", "<i4", ">i4", "<i8", ">i8", "|u1", "<u2", ">u2", "<u4",
          ">u4", "<u8", ">u8", "<f4", ">f4", "<f8", ">f8"]
COMPRESSORS = {
    "none": None,
    "blosc-lz4-shuffle": numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE),
    "blosc-zstd-bitshuffle": numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE),
    "blosc-lz4hc-noshuffle": numcodecs.Blosc("lz4hc", 9, numcodecs.Blosc.NOSHUFFLE),
    "blosc-zlib-auto": numcodecs.Blosc("zlib", 1, numcodecs.Blosc.AUTOSHUFFLE),
    "blosc-blosclz": numcodecs.Blosc("blosclz", 5, numcodecs.Blosc.SHUFFLE),
    "zlib": numcodecs.Zlib(level=4),
    "gzip": numcodecs.GZip(level=6),
    "zstd": numcodecs.Zstd(level=2),
}


def sample(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, size=shape).astype(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt.newbyteorder("="),
                            endpoint=True).astype(dt)
    values = rng.normal(0, 1e3, size=shape).astype(dt)
    flat = values.reshape(-1)
    if flat.size > 3:
        flat[0], flat[1], flat[2] = np.nan, np.inf, -0.0
    return values


def decode_json(doc, dtype):
    """The values of a `cat --json` document as an array of `dtype`."""
    special = {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}
    data = [special.get(v, v) if isinstance(v, str) else v for v in doc["data"]]
    return np.array(data, dtype=np.dtype(dtype).newbyteorder("=")).reshape(doc["shape"])


class ZarrPythonWritesChunkarrReads(TempDirCase):
    def check_equal(self, path, expected):
        doc = cat_json(path)
        self.assertEqual(doc["shape"], list(expected.shape))
        self.assertEqual(doc["dtype"], expected.dtype.str)
        got = decode_json(doc, expected.dtype)
        want = expected.astype(got.dtype)
        if got.dtype.kind == "f":  # bit for bit: NaN where NaN, -0.0 where -0.0
            got, want = got.view(f"u{got.dtype.itemsize}"), want.view(f"u{got.dtype.itemsize}")
        np.testing.assert_array_equal(got, want)

    def test_dtypes_orders_compressors(self):
        shape, chunks = (13, 7), (5, 3)
        n = 0
        for i, (dtype, (name, comp), order) in enumerate(
                itertools.product(DTYPES, COMPRESSORS.items(), "CF")):
            with self.subTest(dtype=dtype, compressor=name, order=order):
                path = self.path(f"a{i}.zarr")
                values = sample(dtype, shape, i)
                z = zarr.open(path, mode="w", shape=shape, chunks=chunks, dtype=dtype,
                              compressor=comp, order=order)
                z[:] = values
                self.check_equal(path, values)
                n += 1
        self.assertEqual(n, len(DTYPES) * len(COMPRESSORS) * 2)

    def test_chunkings_separators_missing_chunks_fill_values(self):
        cases = [
            ((10,), (10,)), ((10,), (3,)), ((10,), (1,)), ((10,), (64,)),
            ((6, 5), (1, 1)), ((6, 5), (6, 1)), ((7, 9, 4), (3, 4, 5)), ((2, 3, 4, 5), (1, 2, 3, 2)),
            ((0,), (5,)), ((3, 0), (2, 2)), ((1, 1, 1), (1, 1, 1)),
        ]
        for i, (shape, chunks) in enumerate(cases):
            for sep in "./":
                with self.subTest(shape=shape, chunks=chunks, separator=sep):
                    path = self.path(f"c{i}{'dot' if sep == '.' else 'slash'}.zarr")
                    values = sample("<f8", shape, i)
                    z = zarr.open(path, mode="w", shape=shape, chunks=chunks, dtype="<f8",
                                  dimension_separator=sep)
                    z[:] = values
                    self.check_equal(path, values)
        # Missing chunks read as the fill value, whatever it is.
        for fill in [np.nan, np.inf, -np.inf, 7.5, None]:
            with self.subTest(fill=fill):
                path = self.path(f"f{fill}.zarr")
                z = zarr.open(path, mode="w", shape=(9, 9), chunks=(4, 4), dtype="<f4",
                              fill_value=fill)
                z[0:3, 0:3] = 1.0
                expected = z[:]
                if fill is None:  # zarr-python leaves missing chunks uninitialised; we read 0
                    expected[np.isnan(expected)] = 0
                    expected[3:, :] = 0
                    expected[:, 3:] = 0
                self.check_equal(path, expected)
        for dtype, fill in [("<i4", -5), ("|u1", 255), ("|b1", True), (">i8", -2**63)]:
            with self.subTest(dtype=dtype, fill=fill):
                path = self.path(f"i{dtype[1:]}.zarr")
                z = zarr.open(path, mode="w", shape=(5, 5), chunks=(2, 2), dtype=dtype,
                              fill_value=fill)
                z[0, 0] = 0
                self.check_equal(path, z[:])

    def test_scalar_array(self):
        path = self.path("s.zarr")
        z = zarr.open(path, mode="w", shape=(), dtype="<f8")
        z[...] = 2.5
        self.assertEqual(cat_json(path), {"shape": [], "dtype": "<f8", "data": [2.5]})

    def test_groups_and_attributes(self):
        root = zarr.open_group(self.path("g.zarr"), mode="w")
        root.attrs["name"] = "exp"
        sub = root.create_group("recordings")
        a = sub.create_dataset("lfp", data=np.arange(12.0).reshape(3, 4), chunks=(2, 2))
        a.attrs["units"] = "uV"
        info = json.loads(run("info", self.path("g.zarr"), "--json").stdout)
        self.assertEqual(info["kind"], "group")
        self.assertEqual(info["attributes"], {"name": "exp"})
        rec = info["children"][0]
        self.assertEqual((rec["name"], rec["kind"]), ("recordings", "group"))
        lfp = rec["children"][0]
        self.assertEqual((lfp["name"], lfp["kind"], lfp["shape"]), ("lfp", "array", [3, 4]))
        self.assertEqual(lfp["attributes"], {"units": "uV"})
        self.check_equal(self.path("g.zarr/recordings/lfp"), a[:])


class ChunkarrWritesZarrPythonReads(TempDirCase):
    def test_copy_variants_read_equal_in_zarr_python(self):
        src = self.path("src.zarr")
        values = sample("<f4", (37, 23), 1)
        z = zarr.open(src, mode="w", shape=values.shape, chunks=(10, 10), dtype="<f4")
        z[:] = values
        z.attrs["units"] = "mV"
        variants = [
            ["--chunks", "5,7"], ["--chunks", "37,23"], ["--chunks", "1,23"], ["--chunks", "64,64"],
            ["--codec", "none"], ["--codec", "zstd:5"], ["--codec", "gzip:9"], ["--codec", "zlib:1"],
            ["--codec", "blosc:zstd:3:bitshuffle"], ["--codec", "blosc:lz4hc:9:noshuffle"],
            ["--codec", "blosc:blosclz:5:shuffle:4096"],
            ["--order", "F", "--chunks", "8,6"], ["--separator", "/", "--chunks", "4,4"],
        ]
        for i, flags in enumerate(variants):
            with self.subTest(flags=flags):
                dst = self.path(f"dst{i}.zarr")
                run("copy", src, dst, *flags)
                out = zarr.open(dst, mode="r")
                np.testing.assert_array_equal(out[:], values)
                attrs = dict(out.attrs)
                provenance = attrs.pop("chunkarr")  # the copy records where it came from
                self.assertEqual(attrs, {"units": "mV"})
                self.assertEqual(provenance["expression"], "copy")
                self.assertEqual(provenance["inputs"][0]["location"], os.path.realpath(src))
                self.assertEqual(provenance["options"]["chunks"], list(out.chunks))
                with open(os.path.join(dst, ".zarray")) as f:
                    meta = json.load(f)
                if "--chunks" in flags:
                    self.assertEqual(meta["chunks"],
                                     [int(c) for c in flags[flags.index("--chunks") + 1].split(",")])
                if "--order" in flags:
                    self.assertEqual(meta["order"], "F")
                if "--separator" in flags:
                    self.assertEqual(meta["dimension_separator"], "/")
                    self.assertTrue(os.path.isdir(os.path.join(dst, "0")))

    def test_every_dtype_and_byte_order_round_trips(self):
        for i, dtype in enumerate(DTYPES):
            with self.subTest(dtype=dtype):
                src, dst = self.path(f"s{i}.zarr"), self.path(f"d{i}.zarr")
                values = sample(dtype, (11, 6), i)
                zarr.open(src, mode="w", shape=values.shape, chunks=(4, 4), dtype=dtype)[:] = values
                run("copy", src, dst, "--chunks", "3,5", "--codec", "blosc:lz4:5:shuffle")
                out = zarr.open(dst, mode="r")
                self.assertEqual(out.dtype, np.dtype(dtype))
                np.testing.assert_array_equal(out[:], values)

    def test_dask_reads_chunkarr_output(self):
        import dask.array as da
        src, dst = self.path("s.zarr"), self.path("d.zarr")
        values = sample("<f8", (50, 40), 3)
        zarr.open(src, mode="w", shape=values.shape, chunks=(7, 9), dtype="<f8")[:] = values
        run("copy", src, dst, "--chunks", "16,16", "--codec", "blosc:zstd:1:shuffle")
        d = da.from_zarr(dst)
        self.assertEqual(d.chunksize, (16, 16))
        np.testing.assert_allclose(d.mean(axis=0).compute(scheduler="threads"),
                                   values.mean(axis=0))

    def test_group_tree_copy(self):
        src, dst = self.path("g.zarr"), self.path("h.zarr")
        root = zarr.open_group(src, mode="w")
        root.attrs["a"] = 1
        root.create_group("x").create_dataset("y", data=np.arange(10, dtype="<i2"), chunks=(3,))
        root.create_dataset("z", data=np.ones((2, 2), dtype=">f8"), chunks=(1, 2))
        run("copy", src, dst, "--codec", "zstd:1")
        out = zarr.open_group(dst, mode="r")
        self.assertEqual(dict(out.attrs), {"a": 1})
        np.testing.assert_array_equal(out["x/y"][:], np.arange(10))
        np.testing.assert_array_equal(out["z"][:], np.ones((2, 2)))
        self.assertEqual(out["x/y"].compressor.get_config()["id"], "zstd")

    def test_sparse_source_stays_sparse(self):
        src, dst = self.path("s.zarr"), self.path("d.zarr")
        z = zarr.open(src, mode="w", shape=(100, 100), chunks=(10, 10), dtype="<f4",
                      fill_value=np.nan)
        z[0:10, 0:10] = 1
        run("copy", src, dst, "--chunks", "20,20")
        out = zarr.open(dst, mode="r")
        self.assertEqual(out.nchunks_initialized, 1)
        np.testing.assert_array_equal(out[:], z[:])


if __name__ == "__main__":
    cli_harness.main()
