#!/usr/bin/python3
"""The planner's benchmarks: chunkarr and dask.array side by side in one run, written to
bench/results/plan.md (and plan.json).

  shared DAG   y = y + y, 12 / 16 / 20 / 24 / 40 times, over a 64x64 array of 8 chunks:
               planning and computing a DAG whose paths double at every level (distinct nodes:
               levels + 1); dask only up to 16 levels (its time doubles per level)
  spill        mean(a.astype('f8'), axis=0) of a (8, 2^25) float32 array (1 GiB) stored to
               Zarr: a 256 MiB result, 4x the 64 MiB memory limit
  rechunk      a (1024, 131072) float32 array (512 MiB, 8x the limit) from row strips
               (1, 131072) to column strips (1024, 128) and back, stored to Zarr

Each system runs as its own process, timed inside it (start-up and imports excluded), peak RSS
of the whole process from GNU time; repeats alternate the systems; the table gives medians.

usage: plan.py [--build build] [--repeats 3] [--memory-limit 64MiB] [--work DIR]
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

import numcodecs
import numpy as np
import zarr

from common import timed

HERE = os.path.dirname(os.path.abspath(__file__))
LZ4 = numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE)


def write(path, shape, chunks, slab_rows):
    """A float32 array with rounded smooth values plus noise, written slab by slab."""
    z = zarr.open(path, mode="w", shape=shape, chunks=chunks, dtype="<f4", compressor=LZ4)
    rng = np.random.default_rng(7)
    cols = np.arange(shape[1], dtype=np.float64)
    for r0 in range(0, shape[0], slab_rows):
        r1 = min(shape[0], r0 + slab_rows)
        rows = np.arange(r0, r1, dtype=np.float64)[:, None]
        block = 40 * np.sin(cols / (300 + rows)) + rng.normal(0, 5, size=(r1 - r0, shape[1]))
        z[r0:r1] = (np.round(block / 0.195) * 0.195).astype(np.float32)


def measure(args, work, workload, path, threads, systems=("chunkarr", "dask")):
    runner = os.path.join(args.build, "bin", "chunkarr_bench")
    out = os.path.join(work, "out.zarr")
    runs = {s: [] for s in systems}
    checksums = {}
    for _ in range(args.repeats):
        for system in runs:
            shutil.rmtree(out, ignore_errors=True)
            if system == "chunkarr":
                cmd = [runner, workload, path, str(threads), str(args.limit), out]
            else:
                cmd = ["/usr/bin/python3", os.path.join(HERE, "dask_runner.py"), workload, path,
                       str(threads), out]
            _, rss, stdout = timed(cmd, work)
            runs[system].append((float(stdout.split("seconds=")[1].split()[0]), rss))
            checksums[system] = stdout.split("checksum=")[1].split()[0]
    shutil.rmtree(out, ignore_errors=True)
    return {s: {"seconds": statistics.median(t for t, _ in v), "rss_mib": max(r for _, r in v),
                "runs": [t for t, _ in v], "checksum": checksums[s]} for s, v in runs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit-mib", type=int, default=64)
    parser.add_argument("--work", default=None)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args()
    args.limit = args.memory_limit_mib << 20
    work = tempfile.mkdtemp(prefix="chunkarr-bench-plan-", dir=args.work)
    rows = []
    try:
        # dask's time doubles with every level (its fused tasks evaluate each path): side by
        # side up to 16 levels, chunkarr alone beyond.
        for levels in (12, 16, 20, 24, 40):
            label = f"shared DAG, {levels} levels (2^{levels} paths, {levels + 1} nodes)"
            print(label, file=sys.stderr, flush=True)
            systems = ("chunkarr", "dask") if levels <= 16 else ("chunkarr",)
            rows.append((label, measure(args, work, f"shared:{levels}", "-", args.threads,
                                        systems)))
        wide = os.path.join(work, "wide.zarr")
        print("writing the spill data ...", file=sys.stderr, flush=True)
        write(wide, (8, 1 << 25), (8, 1 << 16), 8)
        label = (f"spill: mean(a.astype(f8), axis=0) of (8, 2^25) float32 to Zarr, result "
                 f"256 MiB, limit {args.memory_limit_mib} MiB")
        print(label, file=sys.stderr, flush=True)
        rows.append((label, measure(args, work, "spill", wide, args.threads)))
        shutil.rmtree(wide, ignore_errors=True)
        strips = os.path.join(work, "rows.zarr")
        print("writing the rechunk data ...", file=sys.stderr, flush=True)
        write(strips, (1024, 131072), (1, 131072), 64)
        label = (f"rechunk (1024, 131072) float32, rows (1, 131072) -> columns (1024, 128), "
                 f"limit {args.memory_limit_mib} MiB")
        print(label, file=sys.stderr, flush=True)
        rows.append((label, measure(args, work, "rechunk:1024,128", strips, args.threads)))
        cols = os.path.join(work, "cols.zarr")
        src = zarr.open(strips, mode="r")
        dst = zarr.open(cols, mode="w", shape=src.shape, chunks=(1024, 128), dtype="<f4",
                        compressor=LZ4)
        for c0 in range(0, src.shape[1], 8192):
            dst[:, c0:c0 + 8192] = src[:, c0:c0 + 8192]
        shutil.rmtree(strips, ignore_errors=True)
        label = (f"rechunk (1024, 131072) float32, columns (1024, 128) -> rows (1, 131072), "
                 f"limit {args.memory_limit_mib} MiB")
        print(label, file=sys.stderr, flush=True)
        rows.append((label, measure(args, work, "rechunk:1,131072", cols, args.threads)))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = ["# Planner benchmarks", "",
             f"Run by `bench/plan.py` ({args.threads} threads, chunkarr memory limit "
             f"{args.memory_limit_mib} MiB, median of {args.repeats} alternating runs, time "
             "inside each process, peak RSS of the whole process; dask.array with its threaded "
             "scheduler and no memory limit of its own).", "",
             "| workload | chunkarr | dask.array | dask / chunkarr | chunkarr peak RSS "
             "| dask peak RSS |", "|---|---|---|---|---|---|"]
    for label, r in rows:
        c, d = r["chunkarr"], r.get("dask")
        if d is None:
            lines.append(f"| {label} | {c['seconds']:.3f} s | not run (doubles per level) | | "
                         f"{c['rss_mib']:.0f} MiB | |")
            continue
        lines.append(f"| {label} | {c['seconds']:.3f} s | {d['seconds']:.3f} s | "
                     f"{d['seconds'] / c['seconds']:.1f} | {c['rss_mib']:.0f} MiB | "
                     f"{d['rss_mib']:.0f} MiB |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "plan.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "plan.json"), "w") as f:
        json.dump({"args": {k: v for k, v in vars(args).items()},
                   "rows": [{"label": l, **r} for l, r in rows]}, f, indent=1)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
