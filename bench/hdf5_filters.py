#!/usr/bin/python3
"""HDF5 -> Zarr conversion of filtered HDF5, side by side, written to
bench/results/hdf5_filters.md (and hdf5_filters.json).

The session (float32, chunks 256x8192, SIZE MiB) written by h5py with each filter below, then
converted to Zarr (Blosc lz4+shuffle) three ways, runs alternating, each from a settled
machine (common.settle):

  chunkarr      chunkarr convert FILE.h5 OUT.zarr --threads T: stored chunks read raw and
                decoded on T threads
  dask          da.from_array(h5py dataset).to_zarr(...), threaded scheduler (bench/dask_runner.py)
  h5py+zarr     the loop users write: read a slab of chunk rows with h5py, assign it to
                zarr-python (one thread)

Filters: LZF + shuffle (h5py's own filter; libhdf5 lacks it, chunkarr decodes it with liblzf),
and gzip(4) + shuffle for reference. Every output is checked equal to the source.

usage: hdf5_filters.py [--build build] [--size-mib 2048] [--repeats 3] [--threads 2]
                       [--work DIR] [--filters lzf,gzip]
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

import numpy as np
import zarr

from common import make_data, make_hdf5, settle, timed

HERE = os.path.dirname(os.path.abspath(__file__))

H5PY_ZARR = """
import sys, h5py, numcodecs, zarr
src, out = sys.argv[1], sys.argv[2]
with h5py.File(src, "r") as f:
    d = f["a"]
    z = zarr.open(out, mode="w", shape=d.shape, chunks=d.chunks, dtype=d.dtype,
                  compressor=numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE))
    for r0 in range(0, d.shape[0], d.chunks[0]):
        z[r0:r0 + d.chunks[0]] = d[r0:r0 + d.chunks[0]]
"""


def same(out, source, key=None):
    a = zarr.open(source, mode="r")
    b = zarr.open(out, mode="r")
    if key:
        b = b[key]
    for r0 in range(0, a.shape[0], 256):
        if not np.array_equal(a[r0:r0 + 256], b[r0:r0 + 256]):
            return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default=None)
    parser.add_argument("--filters", default="lzf,gzip")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args()
    chunkarr = os.path.abspath(os.path.join(args.build, "bin", "chunkarr"))
    work = tempfile.mkdtemp(prefix="chunkarr-bench-h5filters-", dir=args.work)
    filters = args.filters.split(",")
    rows = {}
    dropped = False
    try:
        source = os.path.join(work, "session.zarr")
        print("writing the session ...", file=sys.stderr, flush=True)
        shape = make_data(source, args.size_mib, seed=5)
        out = os.path.join(work, "out.zarr")
        for name in filters:
            h5 = os.path.join(work, f"{name}.h5")
            print(f"writing {name} HDF5 ...", file=sys.stderr, flush=True)
            make_hdf5(source, h5, compression=name)
            t = str(args.threads)
            cmds = {
                "chunkarr": [chunkarr, "convert", h5, out, "--threads", t],
                "dask": ["/usr/bin/python3", os.path.join(HERE, "dask_runner.py"), "convert", h5,
                         t, out],
                "h5py+zarr": ["/usr/bin/python3", "-c", H5PY_ZARR, h5, out],
            }
            runs = {s: [] for s in cmds}
            for r in range(args.repeats):
                print(f"{name}: round {r + 1} of {args.repeats}", file=sys.stderr, flush=True)
                for system, cmd in cmds.items():
                    shutil.rmtree(out, ignore_errors=True)
                    dropped = settle()
                    seconds, rss, _ = timed(cmd, work)
                    runs[system].append((seconds, rss))
                    if r == 0 and not same(out, source, "a" if system == "chunkarr" else None):
                        sys.exit(f"{system}: the {name} conversion differs from the source")
            shutil.rmtree(out, ignore_errors=True)
            rows[name] = {s: {"seconds": statistics.median(x for x, _ in v),
                              "rss_mib": max(m for _, m in v), "runs": [x for x, _ in v]}
                          for s, v in runs.items()}
            os.remove(h5)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    gib = shape[0] * shape[1] * 4 / 2**30
    labels = {"lzf": "LZF + shuffle (h5py)", "gzip": "gzip(4) + shuffle"}
    lines = ["# HDF5 -> Zarr with filters", "",
             f"Run by `bench/hdf5_filters.py`: a float32 session of shape {tuple(shape)} "
             f"({gib:.2f} GiB) written by h5py in chunks 256x8192 with each filter, converted to "
             f"Zarr (Blosc lz4+shuffle). {args.threads} threads for chunkarr and dask; the "
             "h5py+zarr-python loop is one thread. Whole-process times, medians of "
             f"{args.repeats} rounds, runs alternating, each after a sync"
             + (" with the page cache dropped (inputs read cold)" if dropped else "")
             + "; peak RSS by GNU time. Every output is checked equal to the source.", "",
             "| HDF5 filter | chunkarr | dask.array | h5py + zarr | dask / chunkarr "
             "| h5py+zarr / chunkarr | chunkarr RSS | dask RSS | h5py+zarr RSS |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        c, d, h = r["chunkarr"], r["dask"], r["h5py+zarr"]
        lines.append(f"| {labels.get(name, name)} | {c['seconds']:.2f} s | {d['seconds']:.2f} s "
                     f"| {h['seconds']:.2f} s | {d['seconds'] / c['seconds']:.2f} "
                     f"| {h['seconds'] / c['seconds']:.2f} | {c['rss_mib']:.0f} MiB "
                     f"| {d['rss_mib']:.0f} MiB | {h['rss_mib']:.0f} MiB |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "hdf5_filters.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "hdf5_filters.json"), "w") as f:
        json.dump({"args": vars(args), "shape": list(shape), "rows": rows}, f, indent=1)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
