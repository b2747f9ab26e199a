#!/usr/bin/python3
"""HDF5 <-> Zarr against the real clients: what h5py writes, chunkarr converts to Zarr that
zarr-python reads equal (attributes too); what chunkarr writes to HDF5, h5py reads equal.
Also `info`, `cat` and `eval` on HDF5 paths, and every error path of `convert`.
"""
import json
import os
import random
import signal
import subprocess
import time

import h5py
import numpy as np
import zarr

import cli_harness
from cli_harness import TempDirCase, cat_json, run

DTYPES = ["|b1", "|i1", "|u1", "<i2", ">i2", "<u2", ">u2", "<i4", ">i4", "<u4", "<i8", ">i8",
          "<u8", ">u8", "<f4", ">f4", "<f8", ">f8"]

# (name, create_dataset keyword arguments): layouts and the filters chunkarr decodes itself
# (deflate, shuffle, fletcher32, LZF); szip and scale-offset, which go through H5Dread, are
# in test_filters_left_to_libhdf5.
LAYOUTS = [
    ("contiguous", {}),
    ("compact", {"_compact": True}),
    ("chunked", {"chunks": (4, 5)}),
    ("gzip", {"chunks": (3, 7), "compression": "gzip", "compression_opts": 6}),
    ("shuffle_gzip", {"chunks": (5, 4), "compression": "gzip", "shuffle": True}),
    ("fletcher", {"chunks": (2, 9), "compression": "gzip", "shuffle": True,
                  "fletcher32": True}),
    ("fletcher_only", {"chunks": (7, 3), "fletcher32": True}),
    ("size1_chunks", {"chunks": (1, 1), "compression": "gzip"}),
    ("lzf", {"chunks": (4, 5), "compression": "lzf"}),  # h5py's own filter, liblzf here
    ("shuffle_lzf_fletcher", {"chunks": (3, 7), "compression": "lzf", "shuffle": True,
                              "fletcher32": True}),
]


def values_for(dtype, shape, rng):
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape,
                            endpoint=True).astype(dt)
    v = rng.normal(0, 100, size=shape).astype(dt)
    v.flat[0] = np.nan
    return v


def create(group, name, data, **kw):
    compact = kw.pop("_compact", False)
    if compact:
        space = h5py.h5s.create_simple(data.shape)
        plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        plist.set_layout(h5py.h5d.COMPACT)
        tid = h5py.h5t.py_create(data.dtype, logical=True)
        dsid = h5py.h5d.create(group.id, name.encode(), tid, space, dcpl=plist)
        ds = h5py.Dataset(dsid)
        ds[...] = data
        return ds
    return group.create_dataset(name, data=data, **kw)


def zarr_walk(group, prefix=""):
    for name, item in group.items():
        yield prefix + name, item
        if isinstance(item, zarr.hierarchy.Group):
            yield from zarr_walk(item, prefix + name + "/")


class H5pyWritesZarrReads(TempDirCase):
    def test_dtypes_layouts_filters(self):
        rng = np.random.default_rng(5)
        src = self.path("all.h5")
        expected = {}
        with h5py.File(src, "w") as f:
            for dtype in DTYPES:
                g = f.create_group(dtype.replace("|", "s").replace("<", "l").replace(">", "b"))
                for layout, kw in LAYOUTS:
                    data = values_for(dtype, (11, 13), rng)  # edge chunks on both axes
                    create(g, layout, data, **dict(kw))
                    expected[f"{g.name[1:]}/{layout}"] = data
        for threads in ("1", "2"):
            dst = self.path(f"all-{threads}.zarr")
            run("convert", src, dst, "--threads", threads)
            z = zarr.open_group(dst, mode="r")
            seen = 0
            for name, data in expected.items():
                got = z[name]
                self.assertEqual(got.dtype, data.dtype, name)  # byte order kept
                self.assertEqual(got.shape, data.shape, name)
                np.testing.assert_array_equal(got[...], data, err_msg=name)
                seen += 1
            self.assertEqual(seen, len(DTYPES) * len(LAYOUTS))

    def test_attributes_shapes_fill_links(self):
        src = self.path("exp.h5")
        rng = np.random.default_rng(9)
        lfp = (rng.normal(size=(20, 300)) * 50).astype("f4")
        with h5py.File(src, "w") as f:
            f.attrs["title"] = "experiment 5"
            f.attrs["rate"] = 30000.5
            f.attrs["session"] = np.int64(5)
            f.attrs["ids"] = np.arange(4, dtype="i2")
            f.attrs["grid"] = np.arange(6, dtype="f8").reshape(2, 3)
            f.attrs["flag"] = True
            f.attrs["fixed"] = np.bytes_(b"fixed text")
            f.attrs["names"] = ["ch1", "ch2"]
            f.attrs["compound"] = np.zeros(2, dtype=[("a", "i4"), ("b", "f8")])
            rec = f.create_group("recordings/deep")
            d = rec.create_dataset("lfp", data=lfp, chunks=(8, 64), compression="gzip")
            d.attrs["units"] = "uV"
            f.create_dataset("scalar", data=np.float32(2.5))
            f.create_dataset("empty", shape=(0, 5), dtype="i4")
            f.create_dataset("grow", data=np.arange(10, dtype="i8"), maxshape=(None,),
                             chunks=(4,))
            f.create_dataset("holes", shape=(10,), chunks=(3,), dtype="f4", fillvalue=np.nan)
            f["holes"][0:3] = 7
            f.create_dataset("filled", shape=(7,), chunks=(2,), dtype="i2", fillvalue=-3)
            f.create_dataset("enum", data=np.array([0, 1, 2], "u1"),
                             dtype=h5py.enum_dtype({"A": 0, "B": 1, "C": 2}, basetype="u1"))
            f["alias"] = h5py.SoftLink("/recordings/deep/lfp")
            f["far"] = h5py.ExternalLink("other.h5", "/x")
            f["second"] = f["grow"]  # a second hard link
        dst = self.path("exp.zarr")
        p = run("convert", src, dst)
        self.assertIn("external link", p.stderr)
        self.assertIn("attribute 'compound' skipped", p.stderr)
        z = zarr.open_group(dst, mode="r")
        attrs = dict(z.attrs)
        self.assertEqual(attrs["title"], "experiment 5")
        self.assertEqual(attrs["rate"], 30000.5)
        self.assertEqual(attrs["session"], 5)
        self.assertEqual(attrs["ids"], [0, 1, 2, 3])
        self.assertEqual(attrs["grid"], [[0, 1, 2], [3, 4, 5]])
        self.assertIs(attrs["flag"], True)
        self.assertEqual(attrs["fixed"], "fixed text")
        self.assertEqual(attrs["names"], ["ch1", "ch2"])
        self.assertNotIn("compound", attrs)
        self.assertEqual(attrs["chunkarr:soft_links"],
                         {"alias": "/recordings/deep/lfp", "second": "/grow"})
        self.assertEqual(attrs["chunkarr:external_links"], {"far": "other.h5:/x"})
        self.assertNotIn("alias", z)
        np.testing.assert_array_equal(z["recordings/deep/lfp"][...], lfp)
        self.assertEqual(z["recordings/deep/lfp"].chunks, (8, 64))  # the dataset's own chunks
        lfp_attrs = dict(z["recordings/deep/lfp"].attrs)
        record = lfp_attrs.pop("chunkarr")  # provenance: what made it
        self.assertEqual(lfp_attrs, {"units": "uV"})
        self.assertEqual(record["expression"], "convert")
        self.assertEqual(record["inputs"], [
            {"name": "source", "location": os.path.realpath(src) + ":/recordings/deep/lfp"}])
        self.assertEqual(record["options"]["chunks"], [8, 64])
        self.assertEqual(record["options"]["dtype"], "<f4")
        self.assertTrue(record["options"]["codec"].startswith("blosc"), record)
        self.assertIs(record["complete"], True)
        self.assertRegex(record["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(record["version"], run("--version").stdout.split()[-1])
        self.assertEqual(z["scalar"].attrs["chunkarr"]["inputs"][0]["location"],
                         os.path.realpath(src) + ":/scalar")
        self.assertEqual(z["scalar"].shape, ())
        self.assertEqual(z["scalar"][...], np.float32(2.5))
        self.assertEqual(z["empty"].shape, (0, 5))
        np.testing.assert_array_equal(z["grow"][...], np.arange(10))
        holes = z["holes"][...]
        self.assertTrue(np.isnan(z["holes"].fill_value))
        np.testing.assert_array_equal(holes[:3], 7)
        self.assertTrue(np.isnan(holes[3:]).all())
        self.assertEqual(z["filled"].fill_value, -3)
        np.testing.assert_array_equal(z["filled"][...], np.full(7, -3, "i2"))
        np.testing.assert_array_equal(z["enum"][...], [0, 1, 2])
        # A dataset into a new path inside an existing group: the path becomes groups.
        run("convert", src + ":/recordings/deep/lfp", os.path.join(dst, "new", "deeper", "lfp"))
        np.testing.assert_array_equal(zarr.open_group(dst, mode="r")["new/deeper/lfp"][...], lfp)

        # And back: soft and external links recreated, attributes as h5py types.
        back = self.path("back.h5")
        p = run("convert", dst, back)
        self.assertNotIn("'chunkarr'", p.stderr)  # the old provenance gives way, not a warning
        with h5py.File(back, "r") as f:
            d = f["recordings/deep/lfp"]
            self.assertEqual(d.attrs["units"], "uV")
            record = json.loads(d.attrs["chunkarr"])  # JSON text: HDF5 holds no dictionaries
            self.assertEqual(record["expression"], "convert")
            self.assertEqual(record["inputs"], [
                {"name": "source", "location": os.path.realpath(dst) + "/recordings/deep/lfp"}])
            self.assertEqual(record["options"],
                             {"dtype": "<f4", "codec": "gzip:4+shuffle", "chunks": [8, 64]})
            self.assertNotIn("chunkarr", f.attrs)  # groups record none
            self.assertEqual(f.get("alias", getlink=True).path, "/recordings/deep/lfp")
            self.assertEqual(f.get("far", getlink=True).filename, "other.h5")
            np.testing.assert_array_equal(f["alias"][...], lfp)
            self.assertEqual(f.attrs["title"], "experiment 5")
            self.assertEqual(f.attrs["flag"], True)
            np.testing.assert_array_equal(f.attrs["grid"], np.arange(6.0).reshape(2, 3))
            self.assertEqual(list(f.attrs["names"]), ["ch1", "ch2"])
            self.assertTrue(np.isnan(f["holes"].fillvalue))
            self.assertEqual(f["filled"].fillvalue, -3)

    def test_contiguous_gets_leading_axis_chunks(self):
        src = self.path("big.h5")
        data = np.arange(3000 * 1000, dtype="f4").reshape(3000, 1000)  # 12 MB contiguous
        with h5py.File(src, "w") as f:
            f.create_dataset("a", data=data)
        dst = self.path("big.zarr")
        run("convert", f"{src}:/a", dst)
        z = zarr.open_array(dst, mode="r")
        self.assertEqual(z.chunks[1], 1000)  # whole rows
        self.assertLessEqual(z.chunks[0] * 1000 * 4, 8 << 20)  # about 8 MiB
        self.assertGreater(z.chunks[0] * 1000 * 4, 4 << 20)
        np.testing.assert_array_equal(z[...], data)
        run("convert", f"{src}:/a", self.path("c.zarr"), "--chunks", "7,300", "--codec", "zstd:3")
        z = zarr.open_array(self.path("c.zarr"), mode="r")
        self.assertEqual(z.chunks, (7, 300))
        self.assertEqual(z.compressor.codec_id, "zstd")
        np.testing.assert_array_equal(z[...], data)


class ChunkarrWritesH5pyReads(TempDirCase):
    def test_dtypes_and_codecs(self):
        rng = np.random.default_rng(3)
        src = self.path("src.zarr")
        root = zarr.open_group(src, mode="w")
        expected = {}
        for i, dtype in enumerate(DTYPES):
            data = values_for(dtype, (9, 14), rng)
            a = root.create_dataset(f"a{i}", data=data, chunks=(4, 5))
            a.attrs["index"] = i
            expected[f"a{i}"] = data
        root.attrs["about"] = {"nested": "objects are skipped"}
        root.attrs["label"] = "all dtypes"
        for codec, compression in (("gzip:6", "gzip"), ("none", None), ("", "gzip")):
            dst = self.path(f"out-{codec or 'default'}.h5")
            args = ["convert", src, dst] + (["--codec", codec] if codec else [])
            p = run(*args)
            self.assertIn("attribute 'about' skipped", p.stderr)
            with h5py.File(dst, "r") as f:
                self.assertEqual(f.attrs["label"], "all dtypes")
                for name, data in expected.items():
                    d = f[name]
                    self.assertEqual(d.dtype, data.dtype.newbyteorder("="), name)
                    self.assertEqual(d.chunks, (4, 5))
                    self.assertEqual(d.compression, compression)
                    np.testing.assert_array_equal(d[...], data, err_msg=name)
                    self.assertEqual(d.attrs["index"], int(name[1:]))

    def test_array_into_named_dataset(self):
        src = self.path("lfp.zarr")
        data = np.arange(37 * 29, dtype="f8").reshape(37, 29)
        zarr.open_array(src, mode="w", shape=data.shape, chunks=(10, 10), dtype="f8")[:] = data
        run("convert", src, self.path("x.h5"))
        run("convert", src, self.path("y.h5") + ":/a/b/c", "--chunks", "37,1")
        with h5py.File(self.path("x.h5"), "r") as f:
            np.testing.assert_array_equal(f["lfp"][...], data)  # named after the array
        with h5py.File(self.path("y.h5"), "r") as f:
            np.testing.assert_array_equal(f["a/b/c"][...], data)
            self.assertEqual(f["a/b/c"].chunks, (37, 1))

    def test_sample_round_trip(self):
        h5 = os.path.join(cli_harness.SAMPLES, "2018_12_11_experiment_5.h5")
        z = self.path("exp.zarr")
        back = self.path("exp.h5")
        run("convert", h5, z)
        run("convert", z, back)
        with h5py.File(h5, "r") as a, h5py.File(back, "r") as b:
            for name in ("recordings/lfp", "recordings/timestamps", "channels/id",
                         "channels/good"):
                self.assertEqual(a[name].dtype, b[name].dtype)
                np.testing.assert_array_equal(a[name][...], b[name][...])
            self.assertEqual(dict(a.attrs), dict(b.attrs))
            self.assertEqual(list(a["recordings/lfp"].attrs["dims"]),
                             list(b["recordings/lfp"].attrs["dims"]))


class HDF5Everywhere(TempDirCase):
    def setUp(self):
        super().setUp()
        self.h5 = os.path.join(cli_harness.SAMPLES, "2018_12_11_experiment_5.h5")
        with h5py.File(self.h5, "r") as f:
            self.lfp = f["recordings/lfp"][...]

    def test_info(self):
        doc = json.loads(run("info", self.h5, "--json").stdout)
        objects = {o["path"]: o for o in doc["objects"]}
        lfp = objects["/recordings/lfp"]
        self.assertEqual(lfp["shape"], [16, 30000])
        self.assertEqual(lfp["dtype"], "<f4")
        self.assertEqual(lfp["chunks"], [8, 4096])
        self.assertEqual(lfp["filters"], ["shuffle", "deflate(4)"])
        self.assertEqual(lfp["attributes"]["units"], "uV")
        self.assertEqual(objects["/channels/id"]["layout"], "contiguous")
        self.assertEqual(objects["/channels/good"]["dtype"], "|b1")
        text = run("info", self.h5 + ":/recordings/lfp").stdout
        self.assertIn("(16, 30000) float32, chunks (8, 4096)", text)

    def test_hard_link_cycle_is_listed_and_converted_once(self):
        path = self.path("cycle.h5")
        with h5py.File(path, "w") as f:
            f.create_dataset("g/x", data=np.arange(6.0))
            f["g/up"] = f["/"]  # a hard link to the root: the tree is a cycle
            f["g/x2"] = f["g/x"]  # a second name of a dataset
        doc = json.loads(run("info", path, "--json").stdout)
        objects = {o["path"]: o for o in doc["objects"]}
        self.assertEqual(objects["/g/up"]["kind"], "hard_link")
        self.assertEqual(objects["/g/up"]["target"], "/")
        self.assertEqual(objects["/g/x2"]["kind"], "hard_link")
        self.assertEqual(objects["/g/x2"]["target"], "/g/x")
        self.assertEqual(sorted(objects), ["/", "/g", "/g/up", "/g/x", "/g/x2"])
        self.assertIn("/g/x (hard link", run("info", path).stdout)
        dst = self.path("cycle.zarr")
        run("convert", path, dst)
        np.testing.assert_array_equal(zarr.open(dst + "/g/x", mode="r")[:], np.arange(6.0))
        self.assertEqual(sorted(zarr.open_group(dst + "/g", mode="r").keys()), ["x"])

    def test_groups_1000_deep_are_walked_in_time(self):
        # A hang guard, not a speed target: each lookup by full path made this cubic (95 s).
        path = self.path("deep.h5")
        inner = "/".join(["g"] * 1000)
        with h5py.File(path, "w") as f:
            f[inner + "/x"] = np.arange(3.0)
        for args in (["info", path], ["convert", path, self.path("deep.zarr")],
                     ["copy", self.path("deep.zarr"), self.path("deep2.zarr")],
                     ["info", self.path("deep2.zarr")]):
            p = subprocess.run([cli_harness.CHUNKARR, *args], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
        np.testing.assert_array_equal(zarr.open(self.path("deep2.zarr/" + inner + "/x"))[:],
                                      np.arange(3.0))
        for tree in ("deep.zarr", "deep2.zarr"):  # deeper than Python's rmtree recursion
            subprocess.run(["rm", "-rf", self.path(tree)], check=True)

    def test_cat_and_eval(self):
        doc = cat_json(self.h5 + ":/channels/id")
        self.assertEqual(doc["data"], list(range(100, 116)))
        out = run("eval", "--json", "-i", f"a={self.h5}:/recordings/lfp", "--",
                  "a[:, 1000:20000:3].mean(axis=1)").stdout
        got = np.array(json.loads(out)["data"], dtype="f4")
        want = self.lfp[:, 1000:20000:3].astype("f8").mean(axis=1).astype("f4")
        np.testing.assert_array_equal(got, want)
        for threads in ("1", "2", "4"):
            out = run("eval", "--json", "--threads", threads, "--memory-limit", "2MiB", "-i",
                      f"a={self.h5}:/recordings/lfp", "--", "a.sum(axis=0)").stdout
            np.testing.assert_array_equal(np.array(json.loads(out)["data"], dtype="f4"),
                                          self.lfp.astype("f8").sum(axis=0).astype("f4"))
        dot = run("graph", "-i", f"a={self.h5}:/recordings/lfp", "--", "a.mean()").stdout
        self.assertIn("recordings/lfp", dot)


class Errors(TempDirCase):
    def test_bad_inputs(self):
        not_h5 = self.path("text.h5")
        with open(not_h5, "w") as f:
            f.write("not an HDF5 file\n")
        self.assert_error(["convert", not_h5, self.path("o.zarr")], 1, "text.h5",
                          "cannot open as HDF5")
        self.assert_error(["convert", self.path("missing.h5"), self.path("o.zarr")], 1,
                          "missing.h5", "no such file")
        good = self.path("good.h5")
        with h5py.File(good, "w") as f:
            f.create_dataset("x", data=np.arange(100000, dtype="f8"), chunks=(1000,),
                             compression="gzip")
            f.create_dataset("y", data=np.arange(10, dtype="f8"))
        self.assert_error(["convert", good + ":/nope", self.path("o.zarr")], 1, "/nope",
                          "no such")
        self.assert_error(["cat", good + ":/nope"], 1, "/nope")
        self.assert_error(["cat", good], 1, "is an HDF5 file; name a dataset")
        truncated = self.path("truncated.h5")
        with open(good, "rb") as src, open(truncated, "wb") as dst:
            dst.write(src.read()[: os.path.getsize(good) // 2])
        p = run("convert", truncated, self.path("t.zarr"), check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("truncated.h5", p.stderr)
        self.assertFalse(os.path.exists(self.path("t.zarr")))
        # Destination exists.
        os.mkdir(self.path("exists.zarr"))
        self.assert_error(["convert", good, self.path("exists.zarr")], 1, "already exists")
        run("convert", good, self.path("exists.zarr"), "--overwrite")
        self.assertEqual(zarr.open_group(self.path("exists.zarr"))["y"][3], 3.0)
        open(self.path("exists.h5"), "w").close()
        self.assert_error(["convert", self.path("exists.zarr"), self.path("exists.h5")], 1,
                          "already exists")
        # Usage errors: exit 2.
        self.assert_error(["convert", good, self.path("u.zarr"), "--chunks", "0,5"], 2)
        self.assert_error(["convert", self.path("exists.zarr"), self.path("u.h5"), "--codec",
                           "blosc:lz4"], 2, "HDF5 output takes gzip")
        self.assert_error(["convert", good, self.path("u.zarr"), "--codec", "bogus"], 2)
        self.assert_error(["convert", good, self.path("u.h5")], 1, "both sides are HDF5")

    def test_bitfields_read_as_unsigned_integers(self):
        # PyTables stores boolean columns as 8-bit bitfields; h5py reads any bitfield as the
        # unsigned integer of its width, and so does chunkarr (raw chunks and H5Dread alike).
        src = self.path("bits.h5")
        rng = np.random.default_rng(6)
        cases = {  # name: (file type, values, chunks or None, gzip)
            "b8": (h5py.h5t.STD_B8LE, rng.integers(0, 256, size=(9, 11)).astype("u1"), None,
                   False),
            "b16be": (h5py.h5t.STD_B16BE, rng.integers(0, 2**16, size=(9, 11)).astype("u2"),
                      (4, 5), True),
            "b32": (h5py.h5t.STD_B32LE, rng.integers(0, 2**32, size=(13,)).astype("u4"), (5,),
                    False),
            "b64be": (h5py.h5t.STD_B64BE, rng.integers(0, 2**63, size=(6,)).astype("u8"), None,
                      False),
        }
        with h5py.File(src, "w") as f:
            for name, (ftype, values, chunks, gzip) in cases.items():
                dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
                if chunks:
                    dcpl.set_chunk(chunks)
                    if gzip:
                        dcpl.set_deflate(4)
                space = h5py.h5s.create_simple(values.shape)
                d = h5py.h5d.create(f.id, name.encode(), ftype, space, dcpl=dcpl)
                native = {1: h5py.h5t.NATIVE_B8, 2: h5py.h5t.NATIVE_B16, 4: h5py.h5t.NATIVE_B32,
                          8: h5py.h5t.NATIVE_B64}[values.itemsize]
                d.write(h5py.h5s.ALL, h5py.h5s.ALL, values, mtype=native)
                # A bitfield attribute too: read as its unsigned integers.
                a = h5py.h5a.create(d, b"flags", ftype, h5py.h5s.create_simple((2,)))
                a.write(values.ravel()[:2].copy(), mtype=native)
        with h5py.File(src, "r") as f:  # the reference: h5py's reading
            want = {name: f[name][...] for name in cases}
        info = run("info", src).stdout
        self.assertNotIn("unsupported", info)
        self.assertIn("b16be  (9, 11) uint16", info)
        self.assertIn("b64be  (6,) uint64", info)
        dst = self.path("bits.zarr")
        run("convert", src, dst)
        z = zarr.open_group(dst, mode="r")
        for name, values in want.items():
            self.assertEqual((z[name].dtype.kind, z[name].dtype.itemsize),
                             ("u", values.dtype.itemsize), name)
            np.testing.assert_array_equal(z[name][...], values, err_msg=name)
            np.testing.assert_array_equal(cases[name][1], values, err_msg=name)
            self.assertEqual(z[name].attrs["flags"], values.ravel()[:2].tolist(), name)
            got = cat_json(f"{src}:/{name}")["data"]
            self.assertEqual(got, values.ravel().tolist(), name)

    def test_dimension_scales_become_xarray_dimensions(self):
        # A netCDF-4 file (netCDF4-python): its dimensions are HDF5 dimension scales, which
        # become _ARRAY_DIMENSIONS, so xarray opens the Zarr with the file's coordinates.
        import netCDF4
        import xarray as xr
        src = self.path("climate.nc")
        rng = np.random.default_rng(8)
        temp = (rng.normal(280, 10, size=(4, 3, 5))).astype("f4")
        with netCDF4.Dataset(src, "w") as nc:
            nc.createDimension("time", 4)
            nc.createDimension("lat", 3)
            nc.createDimension("lon", 5)  # a dimension with no variable
            t = nc.createVariable("time", "f8", ("time",))
            t[:] = np.arange(4) * 6.0
            t.units = "hours since 2026-01-01"
            nc.createVariable("lat", "f4", ("lat",))[:] = [10, 20, 30]
            v = nc.createVariable("temp", "f4", ("time", "lat", "lon"), zlib=True,
                                  chunksizes=(2, 3, 5))
            v[:] = temp
            v.units = "K"
        dst = self.path("climate.zarr")
        p = run("convert", src, dst)
        self.assertNotIn("DIMENSION_LIST", p.stderr)
        self.assertNotIn("REFERENCE_LIST", p.stderr)
        z = zarr.open_group(dst, mode="r")
        self.assertEqual(z["temp"].attrs["_ARRAY_DIMENSIONS"], ["time", "lat", "lon"])
        self.assertEqual(z["time"].attrs["_ARRAY_DIMENSIONS"], ["time"])
        self.assertEqual(sorted(z.array_keys()), ["lat", "temp", "time"])  # no array for lon
        run("convert", src + ":/lon", self.path("lon.zarr"))  # asked for alone: converted
        self.assertEqual(zarr.open(self.path("lon.zarr"), mode="r").shape, (5,))
        with xr.open_dataset(src, engine="netcdf4") as want:
            got = xr.open_zarr(dst, consolidated=False)
            self.assertEqual(dict(got.sizes), {"time": 4, "lat": 3, "lon": 5})
            xr.testing.assert_equal(got.load(), want.load())
        # h5py's own dimension scales, on a plain HDF5 file: an axis without one gets none.
        src2 = self.path("scales.h5")
        with h5py.File(src2, "w") as f:
            f["x"] = np.arange(6.0)
            f["x"].make_scale("x")
            f["data"] = np.zeros((6, 2))
            f["data"].dims[0].attach_scale(f["x"])
            f["other"] = np.ones((6,))
            f["other"].dims[0].attach_scale(f["x"])
        run("convert", src2, self.path("scales.zarr"))
        z = zarr.open_group(self.path("scales.zarr"), mode="r")
        self.assertEqual(z["other"].attrs["_ARRAY_DIMENSIONS"], ["x"])
        self.assertEqual(z["x"].attrs["_ARRAY_DIMENSIONS"], ["x"])
        self.assertNotIn("_ARRAY_DIMENSIONS", z["data"].attrs)  # axis 1 has no scale

    def test_unsupported_datasets(self):
        src = self.path("mixed.h5")
        with h5py.File(src, "w") as f:
            f.create_dataset("ok", data=np.arange(5))
            f.create_dataset("strings", data=np.array([b"a", b"b"]))
            f.create_dataset("compound", data=np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]))
            f.create_dataset("vlen", data=np.array(["x", "yz"], dtype=h5py.string_dtype()))
            f.create_dataset("half", data=np.arange(4, dtype="f2"))
            # A filter no library here decodes (Zstd's plugin id), its chunk written raw.
            d = f.create_dataset("zstd", shape=(10,), chunks=(5,), dtype="i4", compression=32015,
                                 allow_unknown_filter=True)
            d.id.write_direct_chunk((0,), b"not decoded", filter_mask=0)
        self.assert_error(["convert", src, self.path("m.zarr")], 1, "mixed.h5:/compound",
                          "compound")
        self.assertFalse(os.path.exists(self.path("m.zarr")))
        p = run("convert", src, self.path("m.zarr"), "--skip-unsupported")
        for name in ("/strings", "/compound", "/vlen", "/half", "/zstd"):
            self.assertIn(f"mixed.h5:{name}: skipped", p.stderr)
        self.assertIn("(id 32015) is not available", p.stderr)
        z = zarr.open_group(self.path("m.zarr"), mode="r")
        self.assertEqual(sorted(z.array_keys()), ["ok"])
        self.assert_error(["cat", src + ":/half"], 1, "/half", "float16")
        self.assert_error(["eval", "-i", f"a={src}:/zstd", "--", "a.sum()"], 1, "/zstd",
                          "not available")

    def test_filters_left_to_libhdf5(self):
        # szip (libaec here) and scale-offset: read through H5Dread, equal to h5py's
        # reading (scale-offset of floats is lossy: h5py's values are the reference).
        src = self.path("hdf5_filters.h5")
        rng = np.random.default_rng(7)
        with h5py.File(src, "w") as f:
            if not h5py.h5z.filter_avail(h5py.h5z.FILTER_SZIP):
                self.skipTest("this libhdf5 has no szip")
            for dt in ("<i4", ">i4", "<u2", "<f4", ">f8", "<i8"):
                f.create_dataset(f"szip{dt[1:]}{'be' if dt[0] == '>' else ''}",
                                 data=values_for(dt, (23, 17), rng), chunks=(8, 6),
                                 compression="szip")
            f.create_dataset("so_int", data=values_for("<i4", (23, 17), rng), chunks=(8, 6),
                             scaleoffset=0)
            f.create_dataset("so_float", data=rng.normal(size=(23, 17)), chunks=(8, 6),
                             scaleoffset=3, compression="gzip", shuffle=True)
        with h5py.File(src, "r") as f:
            want = {name: f[name][...] for name in f}
        dst = self.path("hdf5_filters.zarr")
        p = run("convert", src, dst, "--skip-unsupported")
        z = zarr.open_group(dst, mode="r")
        self.assertNotIn("skipped", p.stderr)
        self.assertEqual(len(want), 8)
        for name, values in want.items():
            np.testing.assert_array_equal(z[name][...], values, err_msg=name)
            printed = cat_json(f"{src}:/{name}")["data"]  # floats as their shortest text
            if values.dtype.kind == "f":
                printed = np.array([float(x) for x in printed], dtype=values.dtype)
                np.testing.assert_array_equal(printed, values.ravel(), err_msg=name)
            else:
                self.assertEqual(printed, values.ravel().tolist(), name)

    def test_lzf_chunks(self):
        # h5py's LZF: chunks it could not compress are stored as they are (the filter skipped
        # in the chunk's mask); a corrupt chunk is an error naming it, never wrong values.
        src = self.path("lzf.h5")
        rng = np.random.default_rng(4)
        noise = rng.random((30, 40))  # LZF cannot shrink these: stored unfiltered
        ramp = np.arange(1200, dtype="i8").reshape(30, 40)
        with h5py.File(src, "w") as f:
            f.create_dataset("noise", data=noise, chunks=(7, 9), compression="lzf")
            f.create_dataset("ramp", data=ramp, chunks=(7, 9), compression="lzf", shuffle=True)
            bad = f.create_dataset("bad", data=ramp, chunks=(10, 40), compression="lzf")
            bad.id.write_direct_chunk((10, 0), b"\xff\xff\xff\xff not lzf", filter_mask=0)
        with h5py.File(src, "r") as f:  # the case this covers: LZF skipped in noise's chunks
            self.assertEqual(f["noise"].id.get_chunk_info(0).filter_mask, 1)
            self.assertEqual(f["ramp"].id.get_chunk_info(0).filter_mask, 0)
        info = run("info", src).stdout
        self.assertIn("shuffle+lzf", info)
        self.assertNotIn("not available", info)
        dst = self.path("lzf.zarr")
        p = run("convert", src, dst, "--skip-unsupported", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("lzf.h5:/bad chunk (1, 0): lzf: corrupt chunk", p.stderr)
        self.assertFalse(os.path.exists(dst))
        with h5py.File(src, "r+") as f:
            del f["bad"]
        run("convert", src, dst)
        z = zarr.open_group(dst, mode="r")
        np.testing.assert_array_equal(z["noise"][...], noise)
        np.testing.assert_array_equal(z["ramp"][...], ramp)
        self.assertEqual(cat_json(src + ":/noise")["data"], noise.ravel().tolist())
        got = run("eval", "-i", f"a={src}:/ramp", "--json", "--", "a.sum(axis=0)").stdout
        self.assertEqual(json.loads(got)["data"], ramp.sum(axis=0).tolist())

    def test_names_zarr_cannot_hold_are_refused_or_skipped(self):
        src = self.path("names.h5")
        with h5py.File(src, "w") as f:
            f[".zarray"] = np.arange(3)
            f["g/a\\b"] = np.arange(5)
            f[".hidden"] = np.arange(4)  # a valid Zarr name: converted and listed
            f["ok"] = np.arange(6)
        dst = self.path("names.zarr")
        self.assert_error(["convert", src, dst], 1, "names.h5:/.zarray", "reserved")
        self.assertFalse(os.path.exists(dst))
        p = run("convert", src, dst, "--skip-unsupported")
        self.assertIn("names.h5:/.zarray: skipped", p.stderr)
        self.assertIn("names.h5:/g/a\\b: skipped", p.stderr)
        g = zarr.open_group(dst, mode="r")
        self.assertEqual(sorted(g.array_keys()), [".hidden", "ok"])
        np.testing.assert_array_equal(g[".hidden"][:], np.arange(4))
        self.assertIn(".hidden  (4,)", run("info", dst).stdout)

    def test_corrupt_chunk_leaves_no_destination(self):
        src = self.path("corrupt.h5")
        with h5py.File(src, "w") as f:
            f.create_dataset("a_first", data=np.arange(1000, dtype="f8"), chunks=(100,))
            d = f.create_dataset("b_broken", data=np.arange(10000, dtype="f8"), chunks=(1000,),
                                 compression="gzip", shuffle=True)
            offset = d.id.get_chunk_info(4).byte_offset
            fl = f.create_dataset("c_checked", data=np.arange(1000, dtype="i4"), chunks=(100,),
                                  fletcher32=True)
            fl_offset = fl.id.get_chunk_info(2).byte_offset
        with open(src, "r+b") as f:
            f.seek(offset + 20)
            f.write(b"\xff" * 16)
            f.seek(fl_offset + 8)
            f.write(b"\x01\x02\x03")
        self.assert_error(["convert", src, self.path("c.zarr")], 1, "corrupt.h5:/b_broken",
                          "chunk")
        self.assertFalse(os.path.exists(self.path("c.zarr")))
        self.assertEqual(os.listdir(self.tmp), ["corrupt.h5"])  # no temporary left behind
        self.assert_error(["cat", src + ":/c_checked"], 1, "c_checked", "Fletcher-32")
        # Zarr -> HDF5 with a corrupt Zarr chunk: no HDF5 file appears.
        z = self.path("z.zarr")
        zarr.open_array(z, mode="w", shape=(100,), chunks=(10,), dtype="f8")[:] = 1
        with open(os.path.join(z, "5"), "wb") as f:
            f.write(b"garbage")
        self.assert_error(["convert", z, self.path("z.h5")], 1, "5")
        self.assertFalse(os.path.exists(self.path("z.h5")))
        self.assertEqual(sorted(os.listdir(self.tmp)), ["corrupt.h5", "z.zarr"])


class Kills(TempDirCase):
    """convert killed (SIGKILL) at random points, both ways: the destination is absent or
    complete; the next run removes the debris; one that appears meanwhile is kept."""

    def test_sigkill_at_random_points(self):
        values = np.random.default_rng(3).standard_normal((240, 3000))
        h5 = self.path("src.h5")
        with h5py.File(h5, "w") as f:
            f.create_dataset("lfp", data=values, chunks=(10, 250), compression="gzip")
        zsrc = self.path("src.zarr")
        zarr.open(zsrc, mode="w", shape=values.shape, chunks=(10, 250), dtype="<f8")[:] = values
        rng = random.Random(5)
        # Kill points spread over a clean run's duration (and past it), however fast this
        # build is (a sanitizer build is several times slower).
        started = time.monotonic()
        run("convert", h5, self.path("clean.zarr"))
        span = 1.3 * (time.monotonic() - started)
        subprocess.run(["rm", "-rf", self.path("clean.zarr")], check=True)
        outcomes = set()
        for trial in range(20):
            to_h5 = trial % 2 == 1
            dst = self.path(f"dst-{trial}" + (".h5" if to_h5 else ".zarr"))
            args = ["convert", zsrc if to_h5 else h5, dst]
            proc = subprocess.Popen([cli_harness.CHUNKARR, *args], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.0, span))
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            outcomes.add(os.path.exists(dst))
            if os.path.exists(dst):
                got = (h5py.File(dst, "r")["/src"][...] if to_h5
                       else zarr.open(dst + "/lfp", mode="r")[:])
                np.testing.assert_array_equal(got, values)
                args.append("--overwrite")
            run(*args)
            debris = [n for n in os.listdir(self.tmp) if ".chunkarr-" in n]
            self.assertEqual(debris, [], f"trial {trial}")
        self.assertEqual(outcomes, {False, True})

    def test_destination_that_appears_is_kept(self):
        zsrc = self.path("src.zarr")
        zarr.open(zsrc, mode="w", shape=(4,), chunks=(2,), dtype="<f8")[:] = 1
        dst = self.path("out.h5")
        with open(dst, "w") as f:
            f.write("theirs")
        self.assert_error(["convert", zsrc, dst], 1, "out.h5", "already exists")
        with open(dst) as f:
            self.assertEqual(f.read(), "theirs")


if __name__ == "__main__":
    cli_harness.main()
