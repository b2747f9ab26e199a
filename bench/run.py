#!/usr/bin/python3
"""chunkarr's benchmarks in one command: chunkarr, dask.array and the no-engine floor on the
same files in the same run, written to bench/results/ as a Markdown table and an SVG plot.

Data (bench/common.py; fixed seed): a float32 recording (oscillation + drift + noise, rounded
to an ADC step) as Zarr with Blosc lz4+shuffle in 256x8192 chunks, the same in 64x256 chunks,
and as HDF5 (h5py) in 256x8192 chunks, uncompressed and gzip+shuffle.

Systems, each run as its own process, with peak RSS of the whole process from GNU time:
  chunkarr  build/bin/chunkarr, the command users run (`eval`, `eval -o`, `convert`), timed
            as a whole process: start-up, planning and output included. This is the time
            the ratios use.
  in-process  build/bin/chunkarr_bench (bench/runner.cpp, the public C++ API), timed inside
            the process
  dask      bench/dask_runner.py (da.from_zarr / da.from_array(h5py), threaded scheduler):
            compute time inside the process, and the whole process (Python and its imports)
  floor     build/bin/chunkarr_floor: the I/O and codec work the workload cannot avoid, with
            no engine (read + decode + sum of the chunks it reads, twice for a two-pass
            reduction; read + decode + encode + durable write for a store or a conversion,
            HDF5 chunks read with pread at the addresses HDF5 lists)
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

ANOMALY = "((a*1000 - mean(a*1000, axis=0))**2).mean(axis=0)"
WORKLOADS = [
    # key (bench/runner.cpp, bench/dask_runner.py), label, source, expression (for
    # `chunkarr eval`; None: convert), floor arguments (None: no floor; OUT: the output)
    ("mean", "mean(a)", "zarr", "mean(a)", []),
    ("mean", "mean(a), 64x256 chunks", "small", "mean(a)", []),
    ("mean0", "mean(a, axis=0)", "zarr", "mean(a, axis=0)", []),
    ("mean1", "mean(a, axis=1)", "zarr", "mean(a, axis=1)", []),
    ("std1", "std(a, axis=1)", "zarr", "std(a, axis=1)", []),
    ("slice", "sum(a[::4, 1000:100000], axis=0)", "zarr", "sum(a[::4, 1000:100000], axis=0)",
     ["--region", "0:1099511627776,1000:100000"]),
    ("anomaly", ANOMALY, "zarr", ANOMALY, ["--passes", "2"]),
    ("store", "sqrt(abs(a))*2+1 stored to Zarr", "zarr", "sqrt(abs(a))*2+1",
     ["--store", "OUT"]),
    ("convert", "HDF5 -> Zarr, uncompressed HDF5", "h5raw", None, ["--store", "OUT"]),
    ("convert", "HDF5 -> Zarr, gzip+shuffle HDF5", "h5gzip", None, ["--store", "OUT"]),
]
SCALING = ["mean", "mean0", "anomaly"]
SCALED = {w[0]: w for w in WORKLOADS if w[2] == "zarr" and w[0] in SCALING}


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
        self.cli = os.path.join(args.build, "bin", "chunkarr")
        self.runner = os.path.join(args.build, "bin", "chunkarr_bench")
        self.floor = os.path.join(args.build, "bin", "chunkarr_floor")
        self.overhead = os.path.join(args.build, "bin", "chunkarr_overhead")
        for exe in (self.cli, self.runner, self.floor, self.overhead):
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

    def commands(self, workload, path, threads):
        """{system: command} for one workload (see the module's docstring)."""
        key, _, _, expression, floor = workload
        out = os.path.join(self.work, "out.zarr")
        t = str(threads)
        if expression is None:
            cli = [self.cli, "convert", path, out, "--overwrite"]
        else:
            cli = [self.cli, "eval", expression, "-i", f"a={path}"]
            if key == "store":
                cli += ["-o", out, "--overwrite"]
        cmds = {
            "chunkarr": cli + ["--threads", t, "--memory-limit", self.args.memory_limit],
            "in-process": [self.runner, key, path, t, self.limit, out],
            "dask": ["/usr/bin/python3", os.path.join(HERE, "dask_runner.py"), key, path, t,
                     out],
        }
        if floor is not None:
            cmds["floor"] = [self.floor, path, t] + [out if a == "OUT" else a for a in floor]
        return cmds

    def measure(self, workload, path, threads):
        """Per system: median seconds (whole process; inside it too where it reports that)
        and max peak RSS (MiB), runs alternating."""
        out = os.path.join(self.work, "out.zarr")
        cmds = self.commands(workload, path, threads)
        runs = {s: [] for s in cmds}
        for _ in range(self.args.repeats):
            for system, cmd in cmds.items():
                shutil.rmtree(out, ignore_errors=True)
                elapsed, rss, stdout = timed(cmd, self.work)
                inside = (float(stdout.split("seconds=")[1].split()[0])
                          if "seconds=" in stdout else elapsed)
                runs[system].append((elapsed, inside, rss))
        shutil.rmtree(out, ignore_errors=True)
        return {s: {"process": statistics.median(e for e, _, _ in v),
                    "seconds": statistics.median(i for _, i, _ in v),
                    "rss_mib": max(r for _, _, r in v),
                    "runs": [e for e, _, _ in v]} for s, v in runs.items()}

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
    """chunkarr's column is the whole process; dask's compute time is inside its process
    (its whole process, imports included, beside it); the floor is inside its process."""
    rows = ["| workload | chunkarr | in-process | dask.array compute | dask process | floor "
            "| dask compute / chunkarr | floor / chunkarr | chunkarr peak RSS | dask peak RSS |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c, i, d, f = r["chunkarr"], r["in-process"], r["dask"], r.get("floor")
        rows.append(
            f"| {r['label']} | {c['process']:.2f} s ({gibs(nbytes, c['process']):.2f} GiB/s) "
            f"| {i['seconds']:.2f} s | {d['seconds']:.2f} s | {d['process']:.2f} s | "
            + (f"{f['seconds']:.2f} s" if f else "")
            + f" | {d['seconds'] / c['process']:.2f} | "
            + (f"{f['seconds'] / c['process']:.2f}" if f else "")
            + f" | {c['rss_mib']:.0f} MiB | {d['rss_mib']:.0f} MiB |")
    return rows


def scaling_table(results):
    rows = ["| size | threads | workload | chunkarr | dask.array compute | dask compute / chunkarr "
            "| chunkarr peak RSS | dask peak RSS |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        c, d = r["chunkarr"], r["dask"]
        rows.append(
            f"| {r['gib']:g} GiB | {r['threads']} | {r['label']} | {c['process']:.2f} s "
            f"({gibs(r['nbytes'], c['process']):.2f} GiB/s) | {d['seconds']:.2f} s | "
            f"{d['seconds'] / c['process']:.2f} | {c['rss_mib']:.0f} MiB | "
            f"{d['rss_mib']:.0f} MiB |")
    return rows


def svg_plot(results, nbytes, title):
    """Horizontal grouped bars: throughput (GiB/s) per workload per system."""
    colors = {"chunkarr": "#1f77b4", "dask": "#ff7f0e", "floor": "#7f7f7f"}
    bar, gap, left, width = 12, 14, 330, 420
    values = [(r["label"], s, gibs(nbytes, seconds_of(r, s)))
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
            v = gibs(nbytes, seconds_of(r, s))
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


def seconds_of(result, system):
    """The time a system is shown with: chunkarr's whole process, the others' inside."""
    return result[system]["process" if system == "chunkarr" else "seconds"]


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
        for w in WORKLOADS:
            key, label, source = w[:3]
            print(f"[{args.size_gib:g} GiB, {args.threads} threads] {label}", file=sys.stderr,
                  flush=True)
            r = b.measure(w, paths[source], args.threads)
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
                    w = SCALED[key][:4] + (None,)  # no floor
                    print(f"[{gib:g} GiB, {threads} threads] {w[1]}", file=sys.stderr,
                          flush=True)
                    r = b.measure(w, spaths["zarr"], threads)
                    part2.append({"label": w[1], "workload": key, "gib": gib,
                                  "threads": threads, "nbytes": snbytes, **r})
            shutil.rmtree(os.path.dirname(spaths["zarr"]), ignore_errors=True)

        title = (f"{nbytes / 2**30:.2f} GiB float32 {tuple(shape)}, {args.threads} threads, "
                 f"chunkarr memory limit {args.memory_limit}")
        lines = [
            "# Benchmarks",
            "",
            f"Machine: {machine}. Run by `bench/run.py` (median of {args.repeats} alternating "
            f"runs; files in the page cache; peak RSS of the whole process). **chunkarr** is the "
            f"`chunkarr` command timed as a whole process (start-up, planning and output "
            f"included); **in-process** the same work through the C++ API timed inside the "
            f"process; dask's **compute** time is inside its process, its **process** time "
            f"includes Python's start-up and imports. The **floor** is the I/O and codec work "
            f"the workload cannot avoid, with no engine (bench/floor.cpp: read + decode of the "
            f"chunks it reads, twice for the two-pass anomaly; + encode + durable write for the "
            f"store and the conversions, HDF5 chunks read with pread at the addresses HDF5 "
            f"lists).",
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
