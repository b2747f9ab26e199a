#!/usr/bin/python3
"""Engine benchmark: chunkarr, dask.array and the no-engine floor on the same Zarr files.

Writes a synthetic float32 recording (bench/common.py) with Blosc lz4+shuffle in 256x8192
chunks and a 64x256-chunk copy, then runs each workload on each system, alternating the
systems (A B A B ...) so that noise hits both alike:

  chunkarr  `chunkarr eval EXPR -i a=... --threads T`  (the whole process, start-up included)
  dask      da.from_zarr(...), the threaded scheduler with T workers (the whole process)
  floor     `chunkarr_floor`: read + decompress + sum every chunk with T threads, no engine

Reports medians, throughput over the array's decoded bytes, the ratios dask/chunkarr and
chunkarr/floor (as throughput), and each run's peak RSS (GNU time). Writes
bench/results/engine.md and prints it.

usage: bench_engine.py --build build [--size-mib 2048] [--repeats 3] [--threads 2]
needs: python3-zarr, python3-dask, GNU time (/usr/bin/time)
"""
import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile

from common import make_data, rechunk, timed

DASK = r"""
import sys, dask, dask.array as da, numcodecs
path, threads, workload = sys.argv[1], int(sys.argv[2]), sys.argv[3]
a = da.from_zarr(path) if workload != "overhead" else None
with dask.config.set(scheduler="threads", num_workers=threads):
    if workload == "mean":
        print(float(a.mean().compute()))
    elif workload == "mean0":
        a.mean(axis=0).compute()
    elif workload == "mean1":
        a.mean(axis=1).compute()
    elif workload == "std1":
        a.std(axis=1).compute()
    elif workload == "slice":
        a[::4, 1000:100000].sum(axis=0).compute()
    elif workload == "anomaly":
        b = a * 1000
        ((b - b.mean(axis=0)) ** 2).mean(axis=0).compute()
    elif workload == "store":
        (da.sqrt(abs(a)) * 2 + 1).to_zarr(sys.argv[4], overwrite=True,
            compressor=numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE))
    elif workload == "overhead":
        x = da.arange(int(sys.argv[4]), chunks=1, dtype="f8")
        import time
        t = time.perf_counter()
        x.sum().compute()
        print(f"seconds={time.perf_counter() - t:.6f}")
"""

WORKLOADS = [
    # name, source, chunkarr expression, dask workload, floor?
    ("mean(a)", "big", "mean(a)", "mean", True),
    ("mean(a), 64x256 chunks", "small", "mean(a)", "mean", True),
    ("mean(a, axis=0)", "big", "mean(a, axis=0)", "mean0", False),
    ("mean(a, axis=1)", "big", "mean(a, axis=1)", "mean1", False),
    ("std(a, axis=1)", "big", "std(a, axis=1)", "std1", False),
    ("sum(a[::4, 1000:100000], axis=0)", "big", "sum(a[::4, 1000:100000], axis=0)", "slice", False),
    ("((a*1000 - mean(a*1000, axis=0))**2).mean(axis=0)", "big",
     "((a*1000 - mean(a*1000, axis=0))**2).mean(axis=0)", "anomaly", False),
    ("sqrt(abs(a))*2+1 stored to Zarr", "big", "sqrt(abs(a))*2+1", "store", False),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="256MiB")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "engine.md"))
    args = parser.parse_args()
    chunkarr = os.path.join(args.build, "bin", "chunkarr")
    floor = os.path.join(args.build, "bin", "chunkarr_floor")
    overhead = os.path.join(args.build, "bin", "chunkarr_overhead")
    work = tempfile.mkdtemp(prefix="chunkarr-bench-")
    threads = str(args.threads)
    try:
        sources = {"big": os.path.join(work, "big.zarr"), "small": os.path.join(work, "small.zarr")}
        shape = make_data(sources["big"], args.size_mib)
        rechunk(sources["big"], sources["small"], (64, 256))
        nbytes = shape[0] * shape[1] * 4
        rows = []
        for name, source, expr, dask_workload, with_floor in WORKLOADS:
            path = sources[source]
            out = os.path.join(work, "out.zarr")
            runs = {"chunkarr": [], "dask": [], "floor": []}
            for _ in range(args.repeats):
                for system in ("chunkarr", "dask", "floor"):
                    if system == "floor" and not with_floor:
                        continue
                    shutil.rmtree(out, ignore_errors=True)
                    if system == "chunkarr":
                        cmd = [chunkarr, "eval", expr, "-i", f"a={path}", "--threads", threads,
                               "--memory-limit", args.memory_limit, "--no-progress"]
                        if dask_workload == "store":
                            cmd += ["-o", out]
                    elif system == "dask":
                        cmd = ["/usr/bin/python3", "-c", DASK, path, threads, dask_workload, out]
                    else:
                        cmd = [floor, path, threads]
                    runs[system].append(timed(cmd, work)[:2])
            med = {k: statistics.median(t for t, _ in v) for k, v in runs.items() if v}
            rss = {k: max(r for _, r in v) for k, v in runs.items() if v}
            floor_cell = (f"{med['floor']:.2f} s ({nbytes / med['floor'] / 2**30:.2f} GiB/s)"
                          if "floor" in med else "")
            ratio_floor = f"{med['floor'] / med['chunkarr']:.2f}" if "floor" in med else ""
            rows.append(
                f"| {name} | {med['chunkarr']:.2f} s ({nbytes / med['chunkarr'] / 2**30:.2f} GiB/s) | "
                f"{med['dask']:.2f} s | {floor_cell} | {med['dask'] / med['chunkarr']:.1f} | "
                f"{ratio_floor} | {rss['chunkarr']:.0f} MiB | {rss['dask']:.0f} MiB |")
        # Engine overhead per task: one-element chunks, nearly no work per task.
        c = [timed([overhead, "100000", threads], work)[2] for _ in range(args.repeats)]
        c_us = statistics.median(float(line.split("us_per_task=")[1]) for line in c)
        d = [timed(["/usr/bin/python3", "-c", DASK, "-", threads, "overhead", "20000"], work)[2]
             for _ in range(args.repeats)]
        d_us = statistics.median(float(line.split("seconds=")[1]) / 20000 * 1e6 for line in d)
        table = "\n".join([
            f"{nbytes / 2**30:.2f} GiB float32 array {shape}, Blosc lz4+shuffle, chunks 256x8192 "
            f"(and a 64x256 copy); {args.threads} threads; chunkarr --memory-limit "
            f"{args.memory_limit}; median of {args.repeats} alternating runs, whole processes, "
            f"files in the page cache; {os.cpu_count()} cores, {platform.machine()}, "
            f"{platform.system()} {platform.release()}.",
            "",
            "| workload | chunkarr | dask.array | floor | dask / chunkarr | chunkarr / floor "
            "| chunkarr peak RSS | dask peak RSS |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Engine overhead per task (sum over one-element chunks): chunkarr {c_us:.2f} us, "
            f"dask {d_us:.0f} us ({d_us / c_us:.0f}x).",
        ])
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(table + "\n")
        print(table)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
