#!/usr/bin/python3
"""Order-statistics benchmarks: chunkarr and dask.array side by side in one run, written to
bench/results/order.md (and order.json).

  median1     median(a, axis=1): each channel's median; dask rechunks every row into one
              chunk (its median needs that)
  percentile  percentile(a, [1, 50, 99]) over all values; dask's da.percentile takes 1-d
              arrays only (a.ravel()) and merges per-chunk percentiles: approximate
  histogram   histogram(a, 1000, range=(0, 4000)) of all values: counts
  sort0       sort(a[0]): one channel sorted; dask cannot sort (dask#4368): NumPy's sort of
              the computed row

The input is one float32 session (1024, N) in chunks 256x8192 (Blosc lz4+shuffle, SIZE MiB).
chunkarr is the `chunkarr eval EXPR --json` command, timed as a whole process under
--memory-limit; dask.array's time is inside its process (threaded scheduler). Peak RSS is the
whole process's, from GNU time. Repeats alternate the systems; the table gives medians. Both
results are checked against NumPy's on the whole array (once): chunkarr's must be equal,
dask's error is reported.

usage: order.py [--build build] [--size-mib 2048] [--repeats 3] [--threads 2]
                [--memory-limit-mib 256] [--work DIR] [--source ZARR]
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

from common import make_data, timed, write_comparison

HERE = os.path.dirname(os.path.abspath(__file__))

WORKLOADS = [
    ("median1", "median(a, axis=1)", "median of each channel"),
    ("percentile", "percentile(a, [1, 50, 99])", "1st, 50th and 99th percentile of all values"),
    ("histogram", "histogram(a, 1000, range=(0.0, 4000.0))[0]",
     "histogram of all values, 1000 bins"),
    ("sort0", "sort(a[0])", "one channel sorted"),
]


def reference(key, source):
    a = zarr.open(source, mode="r")[:]
    if key == "median1":
        return np.median(a, axis=1)
    if key == "histogram":
        return np.histogram(a, 1000, range=(0.0, 4000.0))[0]
    if key == "sort0":
        return np.sort(a[0])
    return np.percentile(a, [1, 50, 99])


def measure(args, work, key, expression, source, expected):
    cli = os.path.join(args.build, "bin", "chunkarr")
    cmds = {
        "chunkarr": [cli, "eval", expression, "-i", f"a={source}", "--threads",
                     str(args.threads), "--memory-limit", f"{args.memory_limit_mib}MiB",
                     "--json"],
        "dask": ["/usr/bin/python3", os.path.join(HERE, "dask_runner.py"), key, source,
                 str(args.threads)],
    }
    runs = {s: [] for s in cmds}
    error = {}
    for _ in range(args.repeats):
        for system, cmd in cmds.items():
            elapsed, rss, stdout = timed(cmd, work)
            if system == "chunkarr":
                got = np.array(json.loads(stdout)["data"], dtype=expected.dtype)
                runs[system].append((elapsed, rss))
            else:
                got = np.array([float(x) for x in stdout.split("values=")[1].split()[0].split(",")],
                               dtype=expected.dtype)
                runs[system].append((float(stdout.split("seconds=")[1].split()[0]), rss))
            error[system] = float(np.max(np.abs(got.astype(np.float64) - expected)))
    assert error["chunkarr"] == 0.0, f"chunkarr differs from NumPy by {error['chunkarr']}"
    out = {s: {"seconds": statistics.median(t for t, _ in v), "rss_mib": max(r for _, r in v),
               "runs": [t for t, _ in v], "max_abs_error": error[s]} for s, v in runs.items()}
    print(f"  max |error| against NumPy: chunkarr {error['chunkarr']}, dask {error['dask']}",
          file=sys.stderr, flush=True)
    return out


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
    work = tempfile.mkdtemp(prefix="chunkarr-bench-order-", dir=args.work)
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
            expected = reference(key, source)
            r = measure(args, work, key, expression, source, expected)
            rows.append((label, expression, r))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    gib = shape[0] * shape[1] * 4 / 2**30
    errors = "; ".join(f"{label}: {r['dask']['max_abs_error']:.3g}" for label, _, r in rows)
    intro = (f"Run by `bench/order.py`: one float32 session of shape {tuple(shape)} "
             f"({gib:.2f} GiB; Blosc lz4+shuffle, chunks 256x8192), {args.threads} threads, "
             f"chunkarr memory limit {args.memory_limit_mib} MiB, median of {args.repeats} "
             "alternating runs. chunkarr: the `chunkarr eval EXPR --json` command as a whole "
             "process; dask.array: timed inside its process, threaded scheduler, no memory "
             "limit of its own. Peak RSS of the whole process. chunkarr's results equal "
             "NumPy's on the whole array, bit for bit (checked in the run); dask's largest "
             f"absolute error against NumPy: {errors}.")
    write_comparison(args.out, "order", "Order-statistics benchmarks", intro, rows, args, shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
