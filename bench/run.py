#!/usr/bin/python3
"""chunkarr's benchmarks in one command: chunkarr, dask.array and the no-engine floor on the
same files in the same run, written to bench/results/ as a Markdown table and an SVG plot.

Data (bench/common.py; fixed seed): a float32 recording (oscillation + drift + noise, rounded
to an ADC step) as Zarr with Blosc lz4+shuffle in 256x8192 chunks, the same in 64x256 chunks,
and as HDF5 (h5py) in 256x8192 chunks, uncompressed and gzip+shuffle.

Systems, each run as its own process and timed inside it (start-up and imports excluded), with
peak RSS of the whole process from GNU time:
  chunkarr  build/bin/chunkarr_bench (bench/runner.cpp, the public C++ API)
  dask      bench/dask_runner.py (da.from_zarr / da.from_array(h5py), threaded scheduler)
  floor     build/bin/chunkarr_floor: read + decompress + sum every chunk file, no engine
Each repeat runs the systems one after the other (A B A B ...) so noise hits both alike;
the table gives medians.

Part 1, every workload at --size-gib (default 2) and --threads (default 2). Part 2, scaling:
mean(a), mean(a, axis=0) and the anomaly variance at --scaling-sizes (default 0.25,1,4 GiB)
and threads 1 and 2. --huge-gib N adds a size larger than RAM to part 2 (N GiB of disk).

usage: run.py [--build build] [--size-gib 2] [--repeats 3] [--quick]
needs: python3-zarr, python3-dask, python3-h5py, GNU time; about 6x --size-gib of disk
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile

from common import make_data, make_hdf5, rechunk, timed

HERE = os.path.dirname(os.path.abspath(__file__))

WORKLOADS = [
    # key, label, source, floor?
    ("mean", "mean(a)", "zarr", True),
    ("mean", "mean(a), 64x256 chunks", "small", True),
    ("mean0", "mean(a, axis=0)", "zarr", False),
    ("mean1", "mean(a, axis=1)", "zarr", False),
    ("std1", "std(a, axis=1)", "zarr", False),
    ("slice", "sum(a[::4, 1000:100000], axis=0)", "zarr", False),
    ("anomaly", "((a*1000 - mean(a*1000, axis=0))**2).mean(axis=0)", "zarr", False),
    ("store", "sqrt(abs(a))*2+1 stored to Zarr", "zarr", False),
    ("convert", "HDF5 -> Zarr, uncompressed HDF5", "h5raw", False),
    ("convert", "HDF5 -> Zarr, gzip+shuffle HDF5", "h5gzip", False),
]
SCALING = ["mean", "mean0", "anomaly"]
LABELS = {"mean": "mean(a)", "mean0": "mean(a, axis=0)",
          "anomaly": "((a*1000 - mean(a*1000, axis=0))**2).mean(axis=0)"}


def parse_size(text):
    units = {"k": 1e3, "m": 1e6, "g": 1e9, "kib": 1024, "mib": 2**20, "gib": 2**30}
    t = text.strip().lower()
    for u in sorted(units, key=len, reverse=True):
        if t.endswith(u):
            return int(float(t[: -len(u)]) * units[u])
    return int(t)


class Bench:
    def __init__(self, args):
        self.args = args
        self.runner = os.path.join(args.build, "bin", "chunkarr_bench")
        self.floor = os.path.join(args.build, "bin", "chunkarr_floor")
        self.overhead = os.path.join(args.build, "bin", "chunkarr_overhead")
        for exe in (self.runner, self.floor, self.overhead):
            if not os.access(exe, os.X_OK):
                sys.exit(f"{exe} not found: build first (cmake --build {args.build} -j2)")
        self.work = tempfile.mkdtemp(prefix="chunkarr-bench-", dir=args.work)
        self.limit = str(parse_size(args.memory_limit))

    def data(self, gib, with_variants):
        """Writes the files for one size; returns {source: path} and the shape."""
        d = os.path.join(self.work, f"{gib:g}GiB")
        os.makedirs(d, exist_ok=True)
        paths = {"zarr": os.path.join(d, "a.zarr")}
        print(f"writing {gib:g} GiB of data in {d} ...", file=sys.stderr, flush=True)
        shape = make_data(paths["zarr"], int(gib * 1024))
        if with_variants:
            paths["small"] = os.path.join(d, "small.zarr")
            paths["h5raw"] = os.path.join(d, "raw.h5")
            paths["h5gzip"] = os.path.join(d, "gzip.h5")
            rechunk(paths["zarr"], paths["small"], (64, 256))
            make_hdf5(paths["zarr"], paths["h5raw"], compression=None)
            make_hdf5(paths["zarr"], paths["h5gzip"], compression="gzip")
        return paths, shape

    def measure(self, workload, path, threads, with_floor):
        """Median seconds and max peak RSS (MiB) per system, runs alternating."""
        out = os.path.join(self.work, "out.zarr")
        runs = {"chunkarr": [], "dask": []}
        if with_floor:
            runs["floor"] = []
        for _ in range(self.args.repeats):
            for system in runs:
                shutil.rmtree(out, ignore_errors=True)
                if system == "chunkarr":
                    cmd = [self.runner, workload, path, str(threads), self.limit, out]
                elif system == "dask":
                    cmd = ["/usr/bin/python3", os.path.join(HERE, "dask_runner.py"), workload,
                           path, str(threads), out]
                else:
                    cmd = [self.floor, path, str(threads)]
                _, rss, stdout = timed(cmd, self.work)
                seconds = float(stdout.split("seconds=")[1].split()[0])
                runs[system].append((seconds, rss))
        shutil.rmtree(out, ignore_errors=True)
        return {s: {"seconds": statistics.median(t for t, _ in v),
                    "rss_mib": max(r for _, r in v),
                    "runs": [t for t, _ in v]} for s, v in runs.items()}

    def overhead_us(self, threads):
        c = [timed([self.overhead, "100000", str(threads)], self.work)[2]
             for _ in range(self.args.repeats)]
        c_us = statistics.median(float(line.split("us_per_task=")[1]) for line in c)
        d = [timed(["/usr/bin/python3", os.path.join(HERE, "dask_runner.py"), "overhead", "-",
                    str(threads), "20000"], self.work)[2] for _ in range(self.args.repeats)]
        d_us = statistics.median(float(line.split("seconds=")[1].split()[0]) / 20000 * 1e6
                                 for line in d)
        return c_us, d_us


def gibs(nbytes, seconds):
    return nbytes / seconds / 2**30


def main_table(results, nbytes):
    rows = ["| workload | chunkarr | dask.array | floor | dask / chunkarr | chunkarr / floor "
            "| chunkarr peak RSS | dask peak RSS |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        c, d, f = r["chunkarr"], r["dask"], r.get("floor")
        rows.append(
            f"| {r['label']} | {c['seconds']:.2f} s ({gibs(nbytes, c['seconds']):.2f} GiB/s) | "
            f"{d['seconds']:.2f} s | "
            + (f"{f['seconds']:.2f} s ({gibs(nbytes, f['seconds']):.2f} GiB/s)" if f else "")
            + f" | {d['seconds'] / c['seconds']:.1f} | "
            + (f"{f['seconds'] / c['seconds']:.2f}" if f else "")
            + f" | {c['rss_mib']:.0f} MiB | {d['rss_mib']:.0f} MiB |")
    return rows


def scaling_table(results):
    rows = ["| size | threads | workload | chunkarr | dask.array | dask / chunkarr "
            "| chunkarr peak RSS | dask peak RSS |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        c, d = r["chunkarr"], r["dask"]
        rows.append(
            f"| {r['gib']:g} GiB | {r['threads']} | {r['label']} | {c['seconds']:.2f} s "
            f"({gibs(r['nbytes'], c['seconds']):.2f} GiB/s) | {d['seconds']:.2f} s | "
            f"{d['seconds'] / c['seconds']:.1f} | {c['rss_mib']:.0f} MiB | "
            f"{d['rss_mib']:.0f} MiB |")
    return rows


def svg_plot(results, nbytes, title):
    """Horizontal grouped bars: throughput (GiB/s) per workload per system."""
    colors = {"chunkarr": "#1f77b4", "dask": "#ff7f0e", "floor": "#7f7f7f"}
    bar, gap, left, width = 12, 14, 330, 420
    values = [(r["label"], s, gibs(nbytes, r[s]["seconds"]))
              for r in results for s in ("chunkarr", "dask", "floor") if s in r]
    top = max(v for _, _, v in values)
    scale = width / top
    y = 50
    parts = []
    for r in results:
        systems = [s for s in ("chunkarr", "dask", "floor") if s in r]
        parts.append(f'<text x="{left - 8}" y="{y + bar * len(systems) / 2 + 4}" '
                     f'text-anchor="end" font-size="11">{escape(r["label"])}</text>')
        for s in systems:
            v = gibs(nbytes, r[s]["seconds"])
            parts.append(f'<rect x="{left}" y="{y}" width="{v * scale:.1f}" height="{bar - 2}" '
                         f'fill="{colors[s]}"/>')
            parts.append(f'<text x="{left + v * scale + 4:.1f}" y="{y + bar - 3}" '
                         f'font-size="9">{v:.2f}</text>')
            y += bar
        y += gap
    legend = "".join(
        f'<rect x="{left + 110 * i}" y="24" width="10" height="10" fill="{c}"/>'
        f'<text x="{left + 110 * i + 14}" y="33" font-size="11">{s}</text>'
        for i, (s, c) in enumerate(colors.items()))
    height = y + 30
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 60}" '
            f'height="{height}" font-family="Helvetica, Arial, sans-serif">'
            f'<rect width="100%" height="100%" fill="white"/>'
            f'<text x="10" y="16" font-size="13" font-weight="bold">{escape(title)}</text>'
            f'{legend}{"".join(parts)}'
            f'<text x="{left}" y="{height - 8}" font-size="11">throughput, GiB/s of decoded '
            f'float32 (higher is better)</text></svg>\n')


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--size-gib", type=float, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scaling-sizes", default="0.25,1,4")
    parser.add_argument("--scaling-threads", default="1,2")
    parser.add_argument("--huge-gib", type=float, default=0,
                        help="add a size larger than RAM to the scaling part")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-limit", default="256MiB")
    parser.add_argument("--work", default=None, help="where to write the data (default: /tmp)")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 0.25 GiB, one repeat, no scaling")
    args = parser.parse_args()
    if args.quick:
        args.size_gib, args.repeats, args.scaling_sizes = 0.25, 1, ""
    b = Bench(args)
    machine = (f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()} "
               f"{platform.release()}, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM")
    try:
        paths, shape = b.data(args.size_gib, with_variants=True)
        nbytes = shape[0] * shape[1] * 4
        part1 = []
        for key, label, source, floor in WORKLOADS:
            print(f"[{args.size_gib:g} GiB, {args.threads} threads] {label}", file=sys.stderr,
                  flush=True)
            r = b.measure(key, paths[source], args.threads, floor)
            part1.append({"label": label, "workload": key, **r})
        c_us, d_us = b.overhead_us(args.threads)
        shutil.rmtree(os.path.dirname(paths["zarr"]), ignore_errors=True)
        part2 = []
        sizes = [float(s) for s in args.scaling_sizes.split(",") if s]
        if args.huge_gib:
            sizes.append(args.huge_gib)
        for gib in sizes:
            spaths, sshape = b.data(gib, with_variants=False)
            snbytes = sshape[0] * sshape[1] * 4
            for threads in (int(t) for t in args.scaling_threads.split(",")):
                for key in SCALING:
                    print(f"[{gib:g} GiB, {threads} threads] {LABELS[key]}", file=sys.stderr,
                          flush=True)
                    r = b.measure(key, spaths["zarr"], threads, False)
                    part2.append({"label": LABELS[key], "workload": key, "gib": gib,
                                  "threads": threads, "nbytes": snbytes, **r})
            shutil.rmtree(os.path.dirname(spaths["zarr"]), ignore_errors=True)

        title = (f"{nbytes / 2**30:.2f} GiB float32 {tuple(shape)}, {args.threads} threads, "
                 f"chunkarr memory limit {args.memory_limit}")
        lines = [
            "# Benchmarks",
            "",
            f"Machine: {machine}. Run by `bench/run.py` (median of {args.repeats} alternating "
            f"runs; time inside each process, start-up excluded; peak RSS of the whole process; "
            f"files in the page cache).",
            "",
            f"## Workloads: {title}",
            "",
            "Zarr: Blosc lz4+shuffle, chunks 256x8192 (and a 64x256 copy). HDF5 (h5py): chunks "
            "256x8192, uncompressed or gzip(4)+shuffle, converted to Zarr lz4+shuffle. "
            "Throughput is over the decoded float32 bytes.",
            "",
            *main_table(part1, nbytes),
            "",
            f"Engine overhead per task (sum over one-element chunks): chunkarr {c_us:.2f} us, "
            f"dask {d_us:.0f} us ({d_us / c_us:.0f}x).",
            "",
            "![throughput per workload](throughput.svg)",
        ]
        if part2:
            lines += ["", f"## Scaling: size and threads (memory limit {args.memory_limit})", "",
                      *scaling_table(part2)]
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "results.md"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(args.out, "throughput.svg"), "w") as f:
            f.write(svg_plot(part1, nbytes, title))
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump({"machine": machine, "args": vars(args), "shape": shape,
                       "workloads": part1, "scaling": part2,
                       "overhead_us": {"chunkarr": c_us, "dask": d_us}}, f, indent=1)
        print("\n".join(lines))
    finally:
        shutil.rmtree(b.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
