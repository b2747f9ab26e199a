#!/usr/bin/python3
"""Filter and scan benchmarks: chunkarr and dask.array side by side in one run, written to
bench/results/filters.md (and filters.json).

  gaussian     gaussian_filter1d(a, 4.0, axis=1) -> Zarr: chunkarr's halo read from the
               source; dask's map_overlap (depth 16, reflect) of scipy.ndimage's filter
  cumsum       cumsum(a, axis=1) -> Zarr: the running sum along the long axis
  sosfiltfilt  sosfiltfilt(butter(4, [300, 3000], 'bandpass', fs=30000), a, axis=1) -> Zarr
               (float64): chunkarr's exact filter (state carried chunk to chunk, both ways);
               dask's usual approximation, map_overlap with a 3000-sample halo of scipy's
               sosfiltfilt per block

The input is one float32 session (1024, N) in chunks 256x8192 (Blosc lz4+shuffle, SIZE MiB).
chunkarr is the `chunkarr eval EXPR -o OUT` command, timed as a whole process (start-up,
planning and the durable commit, synced to disk, included) under --memory-limit; dask.array's
time is inside its process (threaded scheduler, `to_zarr`, no sync). Peak RSS is the whole
process's, from GNU time. Repeats alternate the systems; the table gives medians.

usage: filters.py [--build build] [--size-mib 2048] [--repeats 3] [--threads 2]
                  [--memory-limit-mib 256] [--work DIR]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

import numpy as np
import zarr

from common import make_data, timed, write_comparison

HERE = os.path.dirname(os.path.abspath(__file__))

WORKLOADS = [
    ("gaussian", "gaussian_filter1d(a, 4.0, axis=1)",
     "Gaussian filter along time (sigma 4) -> Zarr"),
    ("cumsum", "cumsum(a, axis=1)", "cumulative sum along time -> Zarr"),
    ("sosfiltfilt", "sosfiltfilt(butter(4, [300, 3000], 'bandpass', fs=30000, output='sos'), "
     "a, axis=1)", "band-pass 300-3000 Hz, forward and backward -> Zarr (float64)"),
]


def measure(args, work, key, expression, source):
    out = os.path.join(work, "out.zarr")
    cli = os.path.join(args.build, "bin", "chunkarr")
    cmds = {
        "chunkarr": [cli, "eval", expression, "-i", f"a={source}", "--threads",
                     str(args.threads), "--memory-limit", f"{args.memory_limit_mib}MiB", "-o",
                     out],
        "dask": ["/usr/bin/python3", os.path.join(HERE, "dask_runner.py"), key, source,
                 str(args.threads), out],
    }
    runs = {s: [] for s in cmds}
    a = zarr.open(source, mode="r")
    for _ in range(args.repeats):
        for system, cmd in cmds.items():
            shutil.rmtree(out, ignore_errors=True)
            elapsed, rss, stdout = timed(cmd, work)
            inside = (float(stdout.split("seconds=")[1].split()[0])
                      if "seconds=" in stdout else elapsed)
            runs[system].append((inside, rss))
            # Both wrote the right shape; a row's start matches a direct computation.
            z = zarr.open(out, mode="r")
            assert z.shape == a.shape, (system, z.shape)
            row = a[5, :20000].astype(np.float64)
            if key == "cumsum":
                assert np.allclose(z[5, :20000], np.cumsum(a[5, :20000]), rtol=1e-5)
            elif key == "sosfiltfilt":
                assert z.dtype == np.float64
            else:
                assert abs(float(z[5, 1000]) - float(row[1000])) < 50
    shutil.rmtree(out, ignore_errors=True)
    return {s: {"seconds": statistics.median(t for t, _ in v), "rss_mib": max(r for _, r in v),
                "runs": [t for t, _ in v]} for s, v in runs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit-mib", type=int, default=256)
    parser.add_argument("--work", default=None)
    parser.add_argument("--source", default=None, help="an existing session to reuse")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="chunkarr-bench-filters-", dir=args.work)
    rows = []
    try:
        source = args.source or os.path.join(work, "session.zarr")
        if args.source:
            shape = zarr.open(source, mode="r").shape
        else:
            print("writing the session ...", file=sys.stderr, flush=True)
            shape = make_data(source, args.size_mib, seed=5)
        for key, expression, label in WORKLOADS:
            print(label, file=sys.stderr, flush=True)
            rows.append((label, expression, measure(args, work, key, expression, source)))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    gib = shape[0] * shape[1] * 4 / 2**30
    intro = (f"Run by `bench/filters.py`: one float32 session of shape {tuple(shape)} "
             f"({gib:.2f} GiB; Blosc lz4+shuffle, chunks 256x8192), {args.threads} threads, "
             f"chunkarr memory limit {args.memory_limit_mib} MiB, median of {args.repeats} "
             "alternating runs. chunkarr: the `chunkarr eval EXPR -o OUT` command as a whole "
             "process (the output synced to disk at commit); dask.array: `to_zarr` timed "
             "inside its process (no sync), threaded scheduler, no memory limit of its own. "
             "Peak RSS of the whole process. chunkarr's sosfiltfilt is exact (scipy's result "
             "on the whole array, bit for bit); dask's is map_overlap's approximation.")
    write_comparison(args.out, "filters", "Filter and scan benchmarks", intro, rows, args, shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
