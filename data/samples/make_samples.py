#!/usr/bin/python3
"""Writes the sample experiment in data/samples/ (run once; the output is committed).

2018_12_11_experiment_5.zarr is a small extracellular recording laid out as acquisition
systems export it: 16 channels of local field potential sampled at 1 kHz for 30 s, stored
as float32 microvolts rounded to the ADC step, with timestamps and channel metadata. Values
have structure (per-channel oscillations, a slow drift, a shared artefact, noise), so
reductions over it mean something. The seed is fixed: the same bytes every run.

2018_12_11_experiment_5.h5 holds the same experiment as an acquisition system would write it
in HDF5 (h5py): the same groups, datasets and attributes, chunked (8, 4096) with
gzip + shuffle, the channel ids contiguous.
"""
import pathlib
import shutil
import sys

import h5py
import numcodecs
import numpy as np
import zarr

HERE = pathlib.Path(__file__).resolve().parent
NAME = "2018_12_11_experiment_5"


def make_lfp(rng, channels=16, rate=1000, seconds=30):
    t = np.arange(rate * seconds) / rate
    lfp = np.empty((channels, t.size), dtype=np.float64)
    for c in range(channels):
        theta = 40.0 * np.sin(2 * np.pi * (6 + 0.25 * c) * t + rng.uniform(0, 2 * np.pi))
        gamma = 8.0 * np.sin(2 * np.pi * (40 + c) * t)
        drift = 15.0 * c + 25.0 * (t / seconds)
        lfp[c] = theta + gamma + drift + rng.normal(0, 5.0, t.size)
    lfp[:, 12000:12050] += 300.0  # a stimulation artefact seen on every channel
    adc_step = 0.195  # microvolts per ADC count
    return t, (np.round(lfp / adc_step) * adc_step).astype(np.float32)


def main():
    rng = np.random.default_rng(20181211)
    t, lfp = make_lfp(rng)
    path = HERE / f"{NAME}.zarr"
    if path.exists():
        shutil.rmtree(path)
    root = zarr.open_group(str(path), mode="w")
    root.attrs.update({"experiment": NAME, "date": "2018-12-11", "subject": "mouse M5",
                       "session": 5, "description": "16-channel LFP, 1 kHz, 30 s"})
    rec = root.create_group("recordings")
    blosc = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
    a = rec.create_dataset("lfp", data=lfp, chunks=(8, 4096), compressor=blosc)
    a.attrs.update({"units": "uV", "sampling_rate_hz": 1000, "dims": ["channel", "time"]})
    ts = rec.create_dataset("timestamps", data=t, chunks=(8192,), compressor=blosc)
    ts.attrs["units"] = "s"
    meta = root.create_group("channels")
    meta.create_dataset("id", data=np.arange(100, 116, dtype=np.int32), chunks=(16,),
                        compressor=None)
    meta.create_dataset("good", data=np.array([c not in (3, 11) for c in range(16)]),
                        chunks=(16,), compressor=numcodecs.Zlib(level=1))
    write_hdf5(t, lfp)
    return 0


def write_hdf5(t, lfp):
    with h5py.File(HERE / f"{NAME}.h5", "w", track_order=False) as f:
        f.attrs.update({"experiment": NAME, "date": "2018-12-11", "subject": "mouse M5",
                        "session": 5, "description": "16-channel LFP, 1 kHz, 30 s"})
        rec = f.create_group("recordings")
        a = rec.create_dataset("lfp", data=lfp, chunks=(8, 4096), compression="gzip",
                               compression_opts=4, shuffle=True)
        a.attrs.update({"units": "uV", "sampling_rate_hz": 1000, "dims": ["channel", "time"]})
        ts = rec.create_dataset("timestamps", data=t, chunks=(8192,), compression="gzip",
                                shuffle=True)
        ts.attrs["units"] = "s"
        meta = f.create_group("channels")
        meta.create_dataset("id", data=np.arange(100, 116, dtype=np.int32))
        meta.create_dataset("good", data=np.array([c not in (3, 11) for c in range(16)]))


if __name__ == "__main__":
    sys.exit(main())
