#!/usr/bin/python3
"""The dask.array side of the benchmarks: one workload, run once with the threaded scheduler,
timed inside the process (as chunkarr_bench times chunkarr).

usage: dask_runner.py WORKLOAD INPUT THREADS [OUTPUT]   (workloads as bench/runner.cpp)
prints: seconds=<s> checksum=<a value of the result>
"""
import sys
import time

import dask
import dask.array as da
import numcodecs
import numpy as np


def main():
    workload, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = sys.argv[4] if len(sys.argv) > 4 else None
    lz4 = numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE)
    with dask.config.set(scheduler="threads", num_workers=threads):
        start = time.perf_counter()
        checksum = 0.0
        if workload.startswith("shared:"):
            y = da.from_array((np.arange(64 * 64) / 4096.0).reshape(64, 64), chunks=(8, 64))
            for _ in range(int(workload[7:])):
                y = y + y
            v = y.compute()
            checksum = float(v.ravel()[v.size // 2])
        elif workload == "convert":
            import h5py
            with h5py.File(path, "r") as f:
                d = f["a"]
                da.from_array(d, chunks=d.chunks).to_zarr(out, overwrite=True, compressor=lz4)
        elif workload == "overhead":
            x = da.arange(int(out), chunks=1, dtype="f8")
            start = time.perf_counter()
            checksum = float(x.sum().compute())
        elif workload == "random_normal":
            # INPUT is the shape, rows,cols: normal(0, 1) float64 in chunks 256x8192 -> Zarr.
            shape = tuple(int(x) for x in path.split(",")[:2])
            x = da.random.RandomState(1).normal(0, 1, shape, chunks=(256, 8192))
            x.to_zarr(out, overwrite=True, compressor=lz4)
        else:
            a = da.from_zarr(path.split(",")[0])
            if workload == "mean":
                r = a.mean()
            elif workload == "mean0":
                r = a.mean(axis=0)
            elif workload == "mean1":
                r = a.mean(axis=1)
            elif workload == "std1":
                r = a.std(axis=1)
            elif workload == "slice":
                r = a[::4, 1000:100000].sum(axis=0)
            elif workload == "anomaly":
                b = a * 1000
                r = ((b - b.mean(axis=0)) ** 2).mean(axis=0)
            elif workload == "spill":
                a.astype("f8").mean(axis=0).to_zarr(out, overwrite=True, compressor=lz4)
                r = None
            elif workload.startswith("rechunk:"):
                rows, cols = (int(x) for x in workload[8:].split(","))
                a.rechunk((rows, cols)).to_zarr(out, overwrite=True, compressor=lz4)
                r = None
            elif workload in ("concatenate", "stack", "concatenate_zstd"):
                # INPUT is two arrays, comma-separated: the two sessions, joined along rows.
                b = da.from_zarr(path.split(",")[1])
                join = da.stack if workload == "stack" else da.concatenate
                codec = (numcodecs.Blosc("zstd", 1, numcodecs.Blosc.SHUFFLE)
                         if workload.endswith("zstd") else lz4)
                join([a, b], axis=0).to_zarr(out, overwrite=True, compressor=codec)
                r = None
            elif workload in ("select", "gather"):
                # INPUT: the array, then the mask (select: rows) or the indices (gather: columns).
                index = da.from_zarr(path.split(",")[1]).compute()
                r = a[index].mean(axis=1) if workload == "select" else a[:, index].mean(axis=0)
            elif workload in ("reshape", "trial_mean"):
                # Time split into trials of 8192 samples (a chunk's length): (rows, n, 8192).
                trials = a.reshape(a.shape[0], a.shape[1] // 8192, 8192)
                if workload == "reshape":
                    trials.to_zarr(out, overwrite=True, compressor=lz4)
                    r = None
                else:
                    r = trials.mean(axis=1)
            elif workload == "gaussian":
                # scipy's gaussian_filter1d per block, with dask's halo (radius 16 = 4 sigma).
                from scipy import ndimage
                a.map_overlap(lambda b: ndimage.gaussian_filter1d(b, 4.0, axis=1),
                              depth={0: 0, 1: 16}, boundary="reflect",
                              dtype=a.dtype).to_zarr(out, overwrite=True, compressor=lz4)
                r = None
            elif workload == "cumsum":
                da.cumsum(a, axis=1).to_zarr(out, overwrite=True, compressor=lz4)
                r = None
            elif workload == "sosfiltfilt":
                # The usual approximation: scipy's sosfiltfilt per block with a generous halo
                # (3000 samples: 10 periods of the 300 Hz band edge at 30 kHz, and the
                # filter's transient long gone); scipy's own padding at the recording's ends.
                from scipy import signal
                sos = signal.butter(4, [300, 3000], "bandpass", fs=30000, output="sos")
                a.map_overlap(lambda b: signal.sosfiltfilt(sos, b, axis=1),
                              depth={0: 0, 1: 3000}, boundary="none",
                              dtype="f8").to_zarr(out, overwrite=True, compressor=lz4)
                r = None
            elif workload == "median1":
                r = da.median(a, axis=1)  # dask rechunks each row into one chunk
            elif workload == "percentile":
                # dask's percentile is of 1-d arrays only, and approximate (per-chunk
                # percentiles merged).
                r = da.percentile(a.ravel(), [1, 50, 99])
            elif workload == "histogram":
                r = da.histogram(a, bins=1000, range=(0.0, 4000.0))[0]
            elif workload == "sort0":
                r = a[0]  # dask cannot sort (dask#4368): NumPy sorts the computed row
            elif workload == "store":
                (da.sqrt(abs(a)) * 2 + 1).to_zarr(out, overwrite=True, compressor=lz4)
                r = None
            else:
                sys.exit(f"unknown workload {workload}")
            if r is not None:
                v = r.compute()
                if workload == "sort0":
                    v = np.sort(v)
                checksum = float(v.ravel()[v.size // 2]) if v.ndim else float(v)
                if workload in ("median1", "percentile", "histogram", "sort0"):
                    print("values=" + ",".join(repr(float(x)) for x in v.ravel()))
        print(f"seconds={time.perf_counter() - start:.6f} checksum={checksum:.9g}")


if __name__ == "__main__":
    main()
