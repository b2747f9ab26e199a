#!/usr/bin/python3
"""Incremental-recompute benchmarks, written to bench/results/pipeline.md (and pipeline.json).

One elementwise store over the session, `eval EXPR -i a=SESSION -o OUT`, timed as a whole
process in five ways, each against the first (the same runs alternate, repeats give medians):

  plain       a store without the manifest (--no-manifest): no digests at all
  first       the first --incremental store: every chunk computed, digested and recorded
  unchanged   the same command again, nothing changed: "up to date"
  one_pct     the same command after 1% of the input's chunks were rewritten (zarr-python,
              values changed): those chunks' outputs recomputed
  verify      chunkarr verify --digests OUT: every stored chunk against its digest

Targets (issue "Pipelines"): unchanged < 2% of first, one_pct < 5%, first < 1.05 x plain.
The session is float32 (1024, N) in chunks 256x8192 (Blosc lz4+shuffle, SIZE MiB).

Each timed run starts from the same state: after a sync and, where the bench may (root), with
the page cache dropped, and with the plain store's output removed. On a virtual machine a run
that writes while an earlier run's output still fills the page cache can take twice the system
time (new pages cost more to the host), whichever kind of store it is. The first store's
overhead is the median of each round's first/plain ratio (the two alternate order).

usage: pipeline.py [--build build] [--size-mib 2048] [--repeats 4] [--threads 2]
                   [--work DIR] [--source ZARR]
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

from common import make_data, settle, timed as timed_run


def timed(cmd, work):
    """common.timed from a settled machine (common.settle)."""
    DROPPED[0] = settle()
    return timed_run(cmd, work)


DROPPED = [False]  # whether the page cache could be dropped before the runs

HERE = os.path.dirname(os.path.abspath(__file__))
EXPR = "(a - 100) * 0.5 + sqrt(abs(a))"


def touch_chunks(source, fraction, round_):
    """Rewrites `fraction` of the source's chunks with changed values (zarr-python)."""
    z = zarr.open(source, mode="r+")
    rows, cols = z.chunks
    grid = [(i, j) for i in range(-(-z.shape[0] // rows)) for j in range(-(-z.shape[1] // cols))]
    rng = np.random.default_rng(round_)
    count = max(1, int(round(fraction * len(grid))))
    for k in rng.choice(len(grid), size=count, replace=False):
        i, j = grid[k]
        block = z[i * rows:(i + 1) * rows, j * cols:(j + 1) * cols]
        z[i * rows:(i + 1) * rows, j * cols:(j + 1) * cols] = block + np.float32(round_ + 1)
    return count, len(grid)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default=None)
    parser.add_argument("--source", default=None, help="an existing session to copy and reuse")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args()
    chunkarr = os.path.abspath(os.path.join(args.build, "bin", "chunkarr"))
    work = tempfile.mkdtemp(prefix="chunkarr-bench-pipeline-", dir=args.work)
    times = {k: [] for k in ("plain", "first", "unchanged", "one_pct", "verify")}
    rss = {k: [] for k in times}
    try:
        source = os.path.join(work, "session.zarr")
        if args.source:
            shutil.copytree(args.source, source)
        else:
            print("writing the session ...", file=sys.stderr, flush=True)
            make_data(source, args.size_mib, seed=5)
        shape = zarr.open(source, mode="r").shape
        base = [chunkarr, "eval", EXPR, "-i", f"a={source}", "--threads", str(args.threads)]
        changed = (0, 0)
        for r in range(args.repeats):
            print(f"round {r + 1} of {args.repeats}", file=sys.stderr, flush=True)
            plain, out = os.path.join(work, "plain.zarr"), os.path.join(work, "out.zarr")
            shutil.rmtree(plain, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
            order = [("plain", base + ["-o", plain, "--no-manifest"]),
                     ("first", base + ["-o", out, "--incremental"])]
            if r % 2:
                order.reverse()
            for key, cmd in order:
                s, m, _ = timed(cmd, work)
                times[key].append(s)
                rss[key].append(m)
                shutil.rmtree(plain, ignore_errors=True)  # both run beside the same files
            s, m, _ = timed(base + ["-o", out, "--incremental"], work)
            times["unchanged"].append(s)
            rss["unchanged"].append(m)
            changed = touch_chunks(source, 0.01, r)
            s, m, _ = timed(base + ["-o", out, "--incremental"], work)
            times["one_pct"].append(s)
            rss["one_pct"].append(m)
            s, m, _ = timed([chunkarr, "verify", out, "--digests"], work)
            times["verify"].append(s)
            rss["verify"].append(m)
        # The incremental output equals a full recompute of the changed input.
        full = os.path.join(work, "full.zarr")
        timed(base + ["-o", full, "--no-manifest"], work)
        a, b = zarr.open(out, mode="r"), zarr.open(full, mode="r")
        for r0 in range(0, shape[0], 256):
            if not np.array_equal(a[r0:r0 + 256], b[r0:r0 + 256]):
                sys.exit("the incremental output differs from a full recompute")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    peak = {k: max(v) for k, v in rss.items()}
    first = med["first"]
    overhead = statistics.median(f / p for f, p in zip(times["first"], times["plain"]))
    labels = {
        "plain": "store without manifest (`--no-manifest`)",
        "first": "first `--incremental` store (digests recorded)",
        "unchanged": "again, nothing changed (up to date)",
        "one_pct": f"again after {changed[0]} of {changed[1]} input chunks changed",
        "verify": "`verify --digests` (every chunk against its digest)",
    }
    gib = shape[0] * shape[1] * 4 / 2**30
    lines = ["# Incremental-recompute benchmarks", "",
             f"Run by `bench/pipeline.py`: `chunkarr eval '{EXPR}' -i a=SESSION -o OUT` over one "
             f"float32 session of shape {tuple(shape)} ({gib:.2f} GiB; Blosc lz4+shuffle, "
             f"chunks 256x8192), {args.threads} threads, median of {args.repeats} rounds "
             "(plain and first alternate; each run starts after a sync"
             + (" with the page cache dropped, so inputs are read cold" if DROPPED[0] else "")
             + "). Whole-process times and peak RSS (GNU time). The incremental output is "
             "checked equal to a full recompute of the changed input.", "",
             f"The first store with digests takes {overhead:.3f}x the time of one without "
             f"(median of the rounds' ratios; target < 1.05).",
             "", "| run | time | / first store | peak RSS |", "|---|---|---|---|"]
    for k in times:
        lines.append(f"| {labels[k]} | {med[k]:.3f} s | {med[k] / first:.4f} | "
                     f"{peak[k]:.0f} MiB |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "pipeline.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "pipeline.json"), "w") as f:
        json.dump({"args": vars(args), "shape": list(shape), "seconds": times, "rss_mib": rss,
                   "first_over_plain": overhead,
                   "changed_chunks": changed}, f, indent=1)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
