#!/usr/bin/python3
"""Restructuring benchmarks: chunkarr and dask.array side by side in one run, written to
bench/results/restructure.md (and restructure.json).

  concatenate  two sessions (float32 (1024, N) each, Blosc lz4+shuffle, chunks 256x8192,
               SIZE MiB each) joined along the rows and stored to Zarr
  stack        the same two sessions stacked on a new first axis and stored to Zarr
  recompressed the concatenation stored with another codec (Blosc zstd:1), so every chunk is
               decoded and encoded (the first two copy chunks stored alike as they are)
  select       a[good].mean(axis=1): the rows of a 70 % mask, as channels/good selects
  gather       a[:, idx].mean(axis=0): 1000 scattered columns (sorted)
  reshape      time split into trials of 8192 samples, a.reshape(1024, N / 8192, 8192), stored
  trial mean   the same trials averaged, a.reshape(...).mean(axis=1), printed
  random       normal(0, 1) float64 of a session's size (half its columns) in chunks
               256x8192 -> Zarr: chunkarr's counter-based random(1).normal, dask's
               RandomState(1).normal (Debian 12's dask has no default_rng)

chunkarr is the `chunkarr eval ...` command (`-o` for the stores), timed as a whole process (start-up, planning
and the durable commit included) under --memory-limit; dask.array's time is inside its
process (threaded scheduler, `to_zarr`). Peak RSS is the whole process's, from GNU time.
Repeats alternate the systems; the table gives medians. The memory target: chunkarr's peak
at most the limit + 64 MiB, whatever the size.

usage: restructure.py [--build build] [--size-mib 2048] [--repeats 3] [--threads 2]
                      [--memory-limit-mib 128] [--work DIR]
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
    ("concatenate", "concatenate([a, b], axis=0)", "concatenate of two sessions -> Zarr"),
    ("stack", "stack([a, b])", "stack of two sessions -> Zarr"),
    ("concatenate_zstd", "concatenate([a, b], axis=0)",
     "concatenate of two sessions -> Zarr, recompressed (Blosc zstd:1)"),
]
CODEC = {"concatenate_zstd": "blosc:zstd:1:shuffle"}
# Selections from the first session, printed (not stored): b is the mask or the indices.
SELECTIONS = [
    ("select", "a[b].mean(axis=1)", "channel selection: a[good].mean(axis=1), 70% of 1024 rows"),
    ("gather", "a[:, b].mean(axis=0)",
     "gather of 1000 scattered columns: a[:, idx].mean(axis=0)"),
]


def measure(args, work, key, expression, inputs, store=True):
    out = os.path.join(work, "out.zarr")
    cli = os.path.join(args.build, "bin", "chunkarr")
    cmds = {
        "chunkarr": [cli, "eval", expression] +
                    ([] if key == "random_normal" else
                     ["-i", f"a={inputs[0]}", "-i", f"b={inputs[1]}"]) +
                    ["--threads", str(args.threads), "--memory-limit",
                     f"{args.memory_limit_mib}MiB"] + (["-o", out] if store else []) +
                    (["--codec", CODEC[key]] if key in CODEC else []),
        "dask": ["/usr/bin/python3", os.path.join(HERE, "dask_runner.py"), key,
                 ",".join(inputs), str(args.threads), out],
    }
    runs = {s: [] for s in cmds}
    for _ in range(args.repeats):
        for system, cmd in cmds.items():
            shutil.rmtree(out, ignore_errors=True)
            elapsed, rss, stdout = timed(cmd, work)
            inside = (float(stdout.split("seconds=")[1].split()[0])
                      if "seconds=" in stdout else elapsed)
            runs[system].append((inside, rss))
        if not store:
            continue
        # Both wrote the same values: check the last output against the inputs' corners.
        z = zarr.open(out, mode="r")
        if key != "random_normal":
            a, b = zarr.open(inputs[0], mode="r"), zarr.open(inputs[1], mode="r")
        if key == "random_normal":
            assert z.shape == tuple(int(x) for x in inputs[0].split(","))
            assert abs(float(z[:256, :8192].mean())) < 0.01
        elif key == "reshape":
            assert z.shape == (a.shape[0], a.shape[1] // 8192, 8192)
            assert (z[3, -1, -100:] == a[3, -100:]).all()
        elif key.startswith("concatenate"):
            assert z.shape == (a.shape[0] + b.shape[0], a.shape[1])
            assert (z[a.shape[0], :100] == b[0, :100]).all()
        else:
            assert z.shape == (2,) + a.shape
            assert (z[1, -1, -100:] == b[-1, -100:]).all()
    shutil.rmtree(out, ignore_errors=True)
    return {s: {"seconds": statistics.median(t for t, _ in v), "rss_mib": max(r for _, r in v),
                "runs": [t for t, _ in v]} for s, v in runs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--size-mib", type=int, default=2048, help="per session")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit-mib", type=int, default=128)
    parser.add_argument("--work", default=None)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="chunkarr-bench-restructure-", dir=args.work)
    rows = []
    try:
        inputs = [os.path.join(work, "session1.zarr"), os.path.join(work, "session2.zarr")]
        print("writing two sessions ...", file=sys.stderr, flush=True)
        shape = make_data(inputs[0], args.size_mib, seed=5)
        make_data(inputs[1], args.size_mib, seed=6)
        for key, expression, label in WORKLOADS:
            print(label, file=sys.stderr, flush=True)
            rows.append((label, expression, measure(args, work, key, expression, inputs)))
        rng = np.random.default_rng(3)
        good = os.path.join(work, "good.zarr")
        zarr.open(good, mode="w", shape=(shape[0],), chunks=(shape[0],), dtype=bool)[:] = (
            rng.random(shape[0]) < 0.7)
        idx = os.path.join(work, "idx.zarr")
        zarr.open(idx, mode="w", shape=(1000,), chunks=(1000,), dtype="i8")[:] = np.sort(
            rng.choice(shape[1], 1000, replace=False))
        for (key, expression, label), index in zip(SELECTIONS, (good, idx)):
            print(label, file=sys.stderr, flush=True)
            rows.append((label, expression,
                         measure(args, work, key, expression, [inputs[0], index], store=False)))
        trials = f"a.reshape({shape[0]}, {shape[1] // 8192}, 8192)"
        for key, expression, label, store in [
                ("reshape", trials, "time split into trials of 8192 samples -> Zarr", True),
                ("trial_mean", trials + ".mean(axis=1)",
                 "trial average: the split, averaged over trials", False)]:
            print(label, file=sys.stderr, flush=True)
            rows.append((label, expression,
                         measure(args, work, key, expression, [inputs[0], inputs[1]], store)))
        shape2 = f"{shape[0]},{shape[1] // 2}"
        expression = f"random(1).normal(0, 1, ({shape2}), chunks=(256, 8192))"
        label = "random.normal float64 of a session's size -> Zarr"
        print(label, file=sys.stderr, flush=True)
        rows.append((label, expression,
                     measure(args, work, "random_normal", expression, [shape2, shape2])))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    gib = shape[0] * shape[1] * 4 / 2**30
    intro = (f"Run by `bench/restructure.py`: two float32 sessions of shape {shape} "
             f"({gib:.2f} GiB each; Blosc lz4+shuffle, chunks 256x8192), {args.threads} threads, "
             f"chunkarr memory limit {args.memory_limit_mib} MiB, median of {args.repeats} "
             "alternating runs. chunkarr: the `chunkarr eval EXPR [-o OUT]` command as a whole "
             "process (a stored output synced to disk at commit; a selection's result printed); "
             "dask.array: `to_zarr` or `compute` timed inside its process (no sync), threaded "
             "scheduler, no memory limit of its own. Peak RSS of the whole process.")
    write_comparison(args.out, "restructure", "Restructuring benchmarks", intro, rows, args, shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
