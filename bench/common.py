"""Shared by the benchmark scripts: the synthetic recording and the timing of one command."""
import json
import os
import subprocess
import sys
import time

import numcodecs
import numpy as np
import zarr


def make_data(path, size_mib, chunks=(256, 8192), seed=5):
    """Writes a float32 recording of about `size_mib` MiB: per-row oscillation + drift +
    noise, rounded to an ADC step (fixed seed). Returns its shape."""
    cols = max(8192, (size_mib << 20) // 4 // 1024 // 8192 * 8192)
    rows_total = max(256, (size_mib << 20) // 4 // cols // 256 * 256)
    z = zarr.open(path, mode="w", shape=(rows_total, cols), chunks=chunks, dtype="<f4",
                  compressor=numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE))
    rng = np.random.default_rng(seed)
    t = np.arange(cols, dtype=np.float64)
    step = max(256, chunks[0])
    for r0 in range(0, rows_total, step):
        r1 = min(rows_total, r0 + step)
        ch = np.arange(r0, r1, dtype=np.float64)[:, None]
        block = 40 * np.sin(2 * np.pi * t / (500 + ch)) + 0.001 * t + 3 * ch
        block += rng.normal(0, 5, size=block.shape)
        z[r0:r1] = (np.round(block / 0.195) * 0.195).astype(np.float32)
    return z.shape


def rechunk(src, dst, chunks):
    """The same values as `src` in other chunks (zarr-python copies slab by slab)."""
    a = zarr.open(src, mode="r")
    z = zarr.open(dst, mode="w", shape=a.shape, chunks=chunks, dtype=a.dtype,
                  compressor=a.compressor)
    step = 4096
    for r0 in range(0, a.shape[0], step):
        z[r0:r0 + step] = a[r0:r0 + step]


def timed(cmd, work):
    """Runs cmd; returns (seconds, peak RSS in MiB, stdout) of that process alone.

    GNU time measures the peak: it forks the command from its own small process, whereas
    a child forked from this (large) Python process would report this process's RSS too.
    """
    rss_file = os.path.join(work, "rss")
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, *cmd],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    with open(rss_file) as f:
        return elapsed, int(f.read().split()[-1]) / 1024, p.stdout


HDF5_FILTERS = {
    None: {},
    "gzip": {"compression": "gzip", "compression_opts": 4, "shuffle": True},
    "lzf": {"compression": "lzf", "shuffle": True},
}


def settle():
    """Before a timed run: the write-back of earlier runs done (sync) and, where allowed (root),
    the page cache dropped, so that each run starts from the same state. On a virtual machine a
    run that writes while earlier output fills the page cache can take twice the system time.
    Returns whether the cache was dropped."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
        return True
    except OSError:
        return False


def make_hdf5(src, dst, compression=None, chunks=(256, 8192)):
    """The values of the Zarr array `src` as dataset /a of a new HDF5 file (h5py), in
    `chunks`, uncompressed or with `compression` ("gzip": level 4 + shuffle; "lzf": h5py's LZF
    + shuffle)."""
    import h5py
    a = zarr.open(src, mode="r")
    kw = HDF5_FILTERS[compression]
    with h5py.File(dst, "w") as f:
        d = f.create_dataset("a", shape=a.shape, dtype=a.dtype, chunks=chunks, **kw)
        step = chunks[0]
        for r0 in range(0, a.shape[0], step):
            d[r0:r0 + step] = a[r0:r0 + step]


def write_comparison(out_dir, stem, title, intro, rows, args, shape):
    """Writes bench/results/STEM.md (a table of chunkarr against dask.array: one row per
    (label, chunkarr expression, {system: {seconds, rss_mib, runs}})) and STEM.json; prints
    the table."""
    lines = [f"# {title}", "", intro, "",
             "| workload | chunkarr expression | chunkarr | dask.array | dask / chunkarr "
             "| chunkarr peak RSS | dask peak RSS |", "|---|---|---|---|---|---|---|"]
    for label, expression, r in rows:
        c, d = r["chunkarr"], r["dask"]
        lines.append(f"| {label} | `{expression}` | {c['seconds']:.2f} s | {d['seconds']:.2f} s "
                     f"| {d['seconds'] / c['seconds']:.2f} | {c['rss_mib']:.0f} MiB | "
                     f"{d['rss_mib']:.0f} MiB |")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"{stem}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out_dir, f"{stem}.json"), "w") as f:
        json.dump({"args": vars(args), "shape": list(shape),
                   "rows": [{"label": l, "expression": e, **r} for l, e, r in rows]}, f,
                  indent=1)
    print("\n".join(lines))
