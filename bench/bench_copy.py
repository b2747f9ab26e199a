#!/usr/bin/python3
"""Copy benchmark: chunkarr copy vs dask.array on the same Zarr files, side by side.

Writes a synthetic float32 recording (drift + oscillation + noise, rounded to an ADC step;
fixed seed) as Zarr with Blosc lz4+shuffle in 256x8192 chunks, then times, alternating the
systems (A B A B ...):

  rechunk    256x8192 -> 1024x1024 chunks, same codec
  recompress same chunks, lz4 -> blosc zstd:3 bitshuffle

chunkarr: `chunkarr copy`. dask: `da.from_zarr(src).rechunk(...).to_zarr(dst, ...)` with the
threaded scheduler. Peak RSS is each run's own process (wait4's ru_maxrss). Writes
bench/results/copy.md and prints it.

usage: bench_copy.py --chunkarr build/bin/chunkarr [--size-mib 512] [--repeats 3]\nneeds: python3-zarr, python3-dask, GNU time (/usr/bin/time)
"""
import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile

from common import make_data, timed

DASK_SCRIPT = r"""
import sys, dask, dask.array as da, numcodecs
src, dst, chunks, codec = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
comp = (numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE) if codec == "lz4"
        else numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE))
a = da.from_zarr(src)
if chunks != "same":
    a = a.rechunk(tuple(int(c) for c in chunks.split(",")))
with dask.config.set(scheduler="threads"):
    a.to_zarr(dst, compressor=comp, overwrite=True)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunkarr", required=True)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "copy.md"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="chunkarr-bench-")
    try:
        src = os.path.join(work, "src.zarr")
        shape = make_data(src, args.size_mib)
        nbytes = shape[0] * shape[1] * 4
        workloads = {
            "rechunk 256x8192 -> 1024x1024": (["--chunks", "1024,1024"], "1024,1024", "lz4"),
            "recompress lz4 -> blosc zstd:3": (["--codec", "blosc:zstd:3:bitshuffle"], "same",
                                               "zstd"),
        }
        rows = []
        for name, (flags, dask_chunks, codec) in workloads.items():
            results = {"chunkarr": [], "dask": []}
            for _ in range(args.repeats):
                for system in ("chunkarr", "dask"):  # alternate, so noise hits both alike
                    dst = os.path.join(work, f"dst-{system}.zarr")
                    shutil.rmtree(dst, ignore_errors=True)
                    if system == "chunkarr":
                        cmd = [args.chunkarr, "copy", src, dst, "--no-progress", *flags]
                    else:
                        cmd = ["/usr/bin/python3", "-c", DASK_SCRIPT, src, dst, dask_chunks, codec]
                    results[system].append(timed(cmd, work)[:2])
                    shutil.rmtree(dst, ignore_errors=True)
            c = statistics.median(t for t, _ in results["chunkarr"])
            d = statistics.median(t for t, _ in results["dask"])
            c_rss = max(r for _, r in results["chunkarr"])
            d_rss = max(r for _, r in results["dask"])
            rows.append(f"| {name} | {c:.2f} s ({nbytes / c / 2**20:.0f} MiB/s) | "
                        f"{d:.2f} s ({nbytes / d / 2**20:.0f} MiB/s) | {d / c:.2f} | "
                        f"{c_rss:.0f} MiB | {d_rss:.0f} MiB |")
        table = "\n".join([
            f"Copy of a {nbytes / 2**20:.0f} MiB float32 Zarr array {shape}, Blosc lz4+shuffle, "
            f"median of {args.repeats} alternating runs; {os.cpu_count()} cores, "
            f"{platform.machine()}, {platform.system()} {platform.release()}.",
            "Both use every core: chunkarr copy its worker threads, dask its threaded scheduler.",
            "",
            "| workload | chunkarr | dask.array | dask / chunkarr | chunkarr peak RSS | dask peak RSS |",
            "|---|---|---|---|---|---|",
            *rows,
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
