#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/): .zarray documents as
zarr-python writes them, codec frames made by numcodecs, expressions from the eval tests, and
small HDF5 files made by h5py. Run it again after changing it; the seeds are committed."""
import json
import os
import shutil
import sys
import tempfile

import h5py
import numcodecs
import numpy as np
import zarr

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def target_dir(name):
    d = os.path.join(CORPUS, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def metadata():
    d = target_dir("fuzz_metadata")
    tmp = tempfile.mkdtemp()
    cases = [
        dict(shape=(100, 37), chunks=(10, 8), dtype="<f4", compressor=numcodecs.Blosc()),
        dict(shape=(5,), chunks=(2,), dtype=">i8", fill_value=-1, compressor=numcodecs.Zstd(3)),
        dict(shape=(), chunks=(), dtype="|b1", fill_value=True, compressor=None),
        dict(shape=(0, 4), chunks=(1, 4), dtype="<u2", order="F", compressor=numcodecs.GZip(4)),
        dict(shape=(3, 4, 5), chunks=(1, 2, 5), dtype="<f8", fill_value=float("nan"),
             compressor=numcodecs.Zlib(1), dimension_separator="/"),
    ]
    for i, kw in enumerate(cases):
        path = os.path.join(tmp, f"a{i}.zarr")
        zarr.open(path, mode="w", **kw)
        with open(os.path.join(path, ".zarray"), "rb") as f:
            write(d, f"zarray-{i}", f.read())
    write(d, "zgroup", json.dumps({"zarr_format": 2}))
    write(d, "zattrs", json.dumps({"units": "uV", "rate": 30000, "chan": [1, 2, {"a": None}]}))
    shutil.rmtree(tmp)


def codecs():
    # Each seed: a codec selector byte (specs[] in fuzz_codecs.cpp), the output size, a frame.
    d = target_dir("fuzz_codecs")
    values = np.arange(600, dtype="<i4")
    data = values.tobytes()
    frames = [
        (0, numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE)),
        (1, numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE)),
        (2, numcodecs.Blosc("blosclz", 9, numcodecs.Blosc.NOSHUFFLE)),
        (3, numcodecs.Blosc("zlib", 1, numcodecs.Blosc.SHUFFLE)),
        (4, numcodecs.Zstd(3)),
        (5, numcodecs.Zlib(6)),
        (6, numcodecs.GZip(4)),
    ]
    for selector, codec in frames:
        frame = bytes(codec.encode(values))  # Blosc takes the typesize from the array
        # The codec in the low 4 bits, item size 4 in the top two (1 << 2).
        head = bytes([0x80 | selector, len(data) >> 8, len(data) & 0xFF])
        write(d, f"{type(codec).__name__.lower()}-{selector}", head + frame)


EXPRESSIONS = [
    "x + 2*3", "x.mean(axis=0) - x.mean()", "where(b, x, -x)", "abs(y) + x[0]",
    "x[::-1, 1:] ** 2", "clip(x, 0.5, 2)", "x.astype('i2') // 3", "(x > 1) & b",
    "x.T @ x" , "np.sqrt(x).sum(axis=(0, 1), keepdims=True)", "x[None, ..., 0]",
    "min(x, axis=1) < max(y)", "x.rechunk((2, 1)) % 5", "~y ^ 3", "y << 2",
    "logical_xor(b, x > 0)", "x.transpose(1, 0)[1]", "1e309 * x", "-(-(-x))",
    "x.std(ddof=1)", "x.argmax(axis=0)", "nan * inf", "y.astype(bool).any()",
    "concatenate([x, x[:1], b], axis=0)", "stack((y, y * 2), axis=-1)",
    "block([[x, b], [x[:2], b[:2]]])", "hstack([x, b]).sum(axis=1) + vstack([y, y])[0]",
    "dstack([x, x])[::-1, 1:]", "pad(x, ((1, 5), (2, 0)), mode='reflect')",
    "roll(x, 1, axis=0) + flip(x)", "broadcast_to(y, (2, 3)) * tile(y, 2)[:3]",
    "moveaxis(x[None], 0, -1).squeeze()", "pad(b, 3, mode='wrap') | pad(b, 3, mode='edge')",
    "x[[3, -1, 0, 0]][:, [True, False, True]]", "take(x, y, axis=1)", "x[b[:, 0]].sum(axis=0)",
    "x.reshape(2, 6).T.reshape(-1)[::5]", "ravel(x)[2 * 3] + roll(x, 5)",
    "reshape(b, (1, 2, 2, 1)).sum(axis=(1, 2))", "repeat(x, 3, axis=1)[::2] + repeat(y, (1, 0, 2))[0]",
    "eye(4, 3, k=1) * x + linspace(0, 1, 3) - arange(1, 7, 2)", "indices((4, 3))[0] + full_like(x, 2)",
    "random(1).normal(0, 1, (4, 3), chunks=(3, 1)) + x", "x[x > 2] * 2",
    "extract(b, x[:, :1]) + random(2).poisson(4, 3)[y > 100].sum()",
    "np.random.default_rng(5).integers(0, 9, size=(2, 3), dtype='u1')[x[:2] > 0]",
    "meshgrid(y, x[0], indexing='ij')[1] + x[[0, 3], [2, 1]].sum()",
    "cumsum(x, axis=0) + nancumprod(y)[0] - diff(x, 2, axis=0).sum()",
    "sosfiltfilt(butter(2, 0.3, output='sos'), x, axis=0, padlen=2) + lfilter([1, 2], [1, 0.5], x)",
    "gaussian_filter1d(x, 1.5, axis=1, mode='wrap') + median_filter1d(x, 3, axis=0, origin=1) - correlate1d(y, [1, -1], mode='constant', cval=2)[0]",
    "filtfilt(butter(3, [0.1, 0.4], 'bandstop')[0], butter(3, [0.1, 0.4], 'bandstop')[1], x[:, :2], axis=0, padtype=None) + gradient(x, 2.0)[1][:, :2]",
    "argwhere(x > 1)[:, 0] + flatnonzero(b).sum() - nonzero(y)[0][:1]",
    "median(abs(x), axis=1) / 0.6745 + quantile(x, [0.1, 1], axis=(0,), method='hazen')[1] - nanpercentile(y, 50, keepdims=True, method='nearest')",
    "histogram(x, 7, weights=abs(x))[0] + histogram(y, [0, 1, 2.5], density=True)[0][:1] - histogram_bin_edges(x, 6, range=(-1, 3))[:7]",
    "bincount(abs(x).astype('i4') % 5, minlength=3) + digitize(y[0], [0, 1, 2]).sum() - searchsorted([0, 0.5, 3], x[:, 0], side='right') + count_nonzero(x, axis=1) + ptp(y, axis=0)[:1] - nanargmax(x, axis=1)",
    "sort(x, axis=0)[1] + argsort(y, None, 'stable')[:3] - partition(x, (0, 2), axis=None)[::4] + topk(x, 2, axis=0)[0] - argtopk(x, -1)[:, 0] + nanvar(x, axis=1, ddof=1) - nansum(y * 1e300)",
]


def expressions():
    d = target_dir("fuzz_expression")
    for i, e in enumerate(EXPRESSIONS):
        write(d, f"expr-{i:02d}", e)


def hdf5():
    d = target_dir("fuzz_hdf5")
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "a.h5")
    with h5py.File(path, "w", libver="earliest") as f:
        g = f.create_group("rec")
        g.attrs["rate"] = 30000.0
        g.attrs["name"] = "probe A"  # a variable-length string
        g.create_dataset("lfp", data=np.arange(60, dtype="<f4").reshape(6, 10), chunks=(4, 4),
                         compression="gzip", shuffle=True)
        f.create_dataset("flat", data=np.arange(7, dtype=">i2"))
        f["link"] = h5py.SoftLink("/rec/lfp")
        f["rec/up"] = f["/"]  # a hard-link cycle
    with open(path, "rb") as fh:
        write(d, "groups-links-attrs.h5", fh.read())
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset("x", data=np.linspace(0, 1, 50).reshape(5, 10), chunks=(2, 5),
                         fletcher32=True)
        f.create_dataset("scalar", data=np.float64(2.5))
    with open(path, "rb") as fh:
        write(d, "latest-format.h5", fh.read())
    shutil.rmtree(tmp)


if __name__ == "__main__":
    metadata()
    codecs()
    expressions()
    hdf5()
    print("seeds written under", CORPUS, file=sys.stderr)
