#!/usr/bin/python3
"""Provenance, incremental recompute, resume and verify (`eval -o --incremental`, `verify`),
against zarr-python and h5py changing the inputs.

Which output chunks a run rewrote is read from the file system: chunkarr writes a chunk as a
new file renamed into place, so a rewritten chunk has a new inode, and an untouched one keeps
its inode and modification time.
"""
import json
import os
import random
import signal
import subprocess
import time
import unittest
import zlib

import h5py
import numpy as np
import zarr

import cli_harness
from cli_harness import TempDirCase, run


def chunk_files(path):
    """{chunk key: (inode, mtime_ns)} of a Zarr array directory's chunk files."""
    out = {}
    for name in os.listdir(path):
        if name[0].isdigit():
            st = os.stat(os.path.join(path, name))
            out[name] = (st.st_ino, st.st_mtime_ns)
    return out


def rewritten(before, after):
    return sorted(k for k in after if before.get(k) != after[k])


class Incremental(TempDirCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(5)
        self.a = self.path("a.zarr")
        self.b = self.path("b.zarr")
        zarr.open(self.a, mode="w", shape=(60, 900), chunks=(8, 100), dtype="f4")[:] = \
            rng.normal(0, 10, size=(60, 900)).astype("f4")
        zarr.open(self.b, mode="w", shape=(900,), chunks=(300,), dtype="f8")[:] = \
            rng.normal(0, 1, size=900)

    def eval(self, expr, out, *flags):
        p = run("eval", expr, "-i", f"a={self.a}", "-i", f"b={self.b}", "-o", out,
                "--incremental", *flags)
        return p.stderr.strip()

    def numpy(self, expr):
        a, b = zarr.open(self.a)[:], zarr.open(self.b)[:]
        return eval(expr, {"a": a, "b": b, "np": np})

    def assert_same_as_full(self, expr, out):
        full = self.path("full.zarr")
        run("eval", expr, "-i", f"a={self.a}", "-i", f"b={self.b}", "-o", full, "--overwrite")
        got, want = zarr.open(out)[:], zarr.open(full)[:]
        self.assertEqual(got.dtype, want.dtype)
        np.testing.assert_array_equal(got, want)  # bit for bit (NaN-free data)

    def test_one_writer_at_a_time(self):
        # Another writer holds OUT.chunkarr-lock (while it works, whether on the output or on
        # its partial directory): a second one refuses, naming it, and changes nothing; once it
        # is let go, the run goes ahead, and the lock file is gone when it ends.
        import fcntl
        out = self.path("out.zarr")
        lock = out + ".chunkarr-lock"
        self.eval("a * 2", out)
        self.assertFalse(os.path.exists(lock))
        for work_in_progress in (False, True):
            if work_in_progress:
                os.rename(out, out + ".chunkarr-partial")  # a writer's work in progress
            fd = os.open(lock, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                p = run("eval", "a * 3", "-i", f"a={self.a}", "-o", out, "--incremental",
                        check=False)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn("another chunkarr is writing it now", p.stderr)
                self.assertIn("out.zarr.chunkarr-lock is locked", p.stderr)
                self.assertTrue(os.path.isdir(out + ".chunkarr-partial" if work_in_progress
                                              else out))
            finally:
                os.close(fd)
        # A lock file left by a killed writer is taken over.
        self.assertTrue(os.path.exists(lock))
        self.assertIn("computed 72 of 72 chunks", self.eval("a * 3", out))
        np.testing.assert_array_equal(zarr.open(out)[:], zarr.open(self.a)[:] * 3)
        self.assertFalse(os.path.exists(lock))

    def test_only_the_chunks_that_read_a_changed_chunk_are_rewritten(self):
        expr = "a * 2 + b"
        out = self.path("out.zarr")
        self.assertIn("computed 72 of 72 chunks", self.eval(expr, out))
        files = chunk_files(out)
        self.assertIn("up to date", self.eval(expr, out))
        self.assertEqual(chunk_files(out), files)  # nothing touched

        zarr.open(self.a, mode="r+")[17, 250] = 1000  # a's chunk (2, 2)
        self.assertIn("computed 1 of 72 chunks (1 input chunks changed)", self.eval(expr, out))
        after = chunk_files(out)
        self.assertEqual(rewritten(files, after), ["2.2"])
        self.assert_same_as_full(expr, out)
        np.testing.assert_allclose(zarr.open(out)[:], self.numpy(expr), rtol=1e-6)

        zarr.open(self.b, mode="r+")[450] = -5  # b's chunk 1: columns 300..599
        self.assertIn("computed 24 of 72 chunks", self.eval(expr, out))
        self.assertEqual(rewritten(after, chunk_files(out)),
                         sorted(f"{i}.{j}" for i in range(8) for j in (3, 4, 5)))
        self.assert_same_as_full(expr, out)

    def test_a_slice_reads_the_chunks_it_overlaps(self):
        expr = "a[:, 50:850] - 1"
        out = self.path("slice.zarr")
        self.eval(expr, out, "--chunks", "8,100")
        files = chunk_files(out)
        zarr.open(self.a, mode="r+")[17, 250] = 7  # a's chunk (2, 2): columns 200..299
        self.assertIn("computed 2 of 64 chunks", self.eval(expr, out, "--chunks", "8,100"))
        # output columns 100j..100j+99 read a's 150+100j-50..: chunks 1 and 2 of row 2
        self.assertEqual(rewritten(files, chunk_files(out)), ["2.1", "2.2"])
        self.assert_same_as_full(expr, out)

    def test_a_value_written_unchanged_recomputes_nothing(self):
        out = self.path("same.zarr")
        self.eval("a + 1", out)
        files = chunk_files(out)
        z = zarr.open(self.a, mode="r+")
        z[0:8, 0:100] = z[0:8, 0:100]  # the chunk file is rewritten with the same values
        self.assertIn("up to date", self.eval("a + 1", out))
        self.assertEqual(rewritten(files, chunk_files(out)), [])

    def test_a_changed_expression_or_version_recomputes_everything(self):
        out = self.path("e.zarr")
        self.eval("a + b", out)
        self.assertIn("72 of 72 chunks (the expression changed)", self.eval("a - b", out))
        # The same expression spelled otherwise is the same expression.
        self.assertIn("up to date", self.eval("np.subtract( a,b )", out))
        # A manifest written by another version (its header forged, check and all).
        manifest = os.path.join(out, ".chunkarr-manifest")
        with open(manifest) as f:
            lines = f.read().splitlines()
        text = lines[0][:lines[0].rindex(" ~")]
        header = json.loads(text[2:])
        header["version"] = "0.0.1"
        text = "H " + json.dumps(header, separators=(",", ":"), sort_keys=True)
        lines[0] = f"{text} ~{zlib.crc32(text.encode()):08x}"
        with open(manifest, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.assertIn("chunkarr's version changed (\"0.0.1\" to ", self.eval("a - b", out))
        self.assert_same_as_full("a - b", out)

    def test_provenance_is_recorded(self):
        out = self.path("p.zarr")
        self.eval("np.sqrt( abs(a) )*2+b", out)
        attrs = zarr.open(out).attrs.asdict()["chunkarr"]
        self.assertEqual(attrs["expression"], "sqrt(abs(a)) * 2 + b")
        self.assertEqual([i["name"] for i in attrs["inputs"]], ["a", "b"])
        self.assertEqual(attrs["inputs"][0]["location"], os.path.realpath(self.a))
        self.assertEqual(attrs["inputs"][1]["dtype"], "<f8")
        self.assertEqual(attrs["options"]["chunks"], [8, 100])
        self.assertTrue(attrs["complete"])
        self.assertRegex(attrs["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        for key in ("version", "expression_digest", "manifest"):
            self.assertIn(key, attrs)
        for i in attrs["inputs"]:
            self.assertRegex(i["digest"], "^[0-9a-f]{32}$")
            self.assertRegex(i["metadata_digest"], "^[0-9a-f]{32}$")
        # A plain store records it too.
        plain = self.path("plain.zarr")
        run("eval", "a.mean(axis=0)", "-i", f"a={self.a}", "-o", plain)
        self.assertEqual(zarr.open(plain).attrs["chunkarr"]["expression"], "a.mean(axis=0)")

    def test_a_torn_manifest_line_costs_only_its_chunk(self):
        out = self.path("t.zarr")
        self.eval("a * 3", out)
        manifest = os.path.join(out, ".chunkarr-manifest")
        with open(manifest, "rb") as f:
            data = f.read()
        with open(manifest, "wb") as f:
            f.write(data[:-20])  # the last chunk line cut short
        files = chunk_files(out)
        self.assertIn("computed 1 of 72 chunks", self.eval("a * 3", out))
        self.assertEqual(rewritten(files, chunk_files(out)), ["7.8"])
        run("verify", out)

    def test_an_output_not_made_by_chunkarr_is_kept(self):
        out = self.path("foreign.zarr")
        zarr.open(out, mode="w", shape=(3,), dtype="i4")[:] = [1, 2, 3]
        self.assert_error(["eval", "a + 1", "-i", f"a={self.a}", "-o", out, "--incremental"], 1,
                          "foreign.zarr", "no chunkarr manifest")
        np.testing.assert_array_equal(zarr.open(out)[:], [1, 2, 3])
        run("eval", "a + 1", "-i", f"a={self.a}", "-o", out, "--incremental", "--overwrite")
        self.assertEqual(zarr.open(out).shape, (60, 900))


@unittest.skipIf(os.environ.get("CHUNKARR_WITH_HDF5") == "0", "chunkarr built without HDF5")
class HDF5Input(TempDirCase):
    def test_a_changed_hdf5_chunk_rewrites_its_output_chunks(self):
        h5 = self.path("rec.h5")
        rng = np.random.default_rng(3)
        with h5py.File(h5, "w") as f:
            f.create_dataset("x", data=rng.normal(size=(40, 600)), chunks=(10, 200),
                             compression="gzip")
        out = self.path("o.zarr")
        args = ["eval", "x * 2", "-i", f"x={h5}:/x", "-o", out, "--incremental"]
        self.assertIn("computed 12 of 12 chunks", run(*args).stderr)
        files = chunk_files(out)
        self.assertIn("up to date", run(*args).stderr)
        with h5py.File(h5, "r+") as f:
            f["x"][25, 410] = 99.0  # chunk (2, 2)
        self.assertIn("computed 1 of 12 chunks", run(*args).stderr)
        self.assertEqual(rewritten(files, chunk_files(out)), ["2.2"])
        with h5py.File(h5) as f:
            np.testing.assert_array_equal(zarr.open(out)[:], f["x"][:] * 2)
        run("verify", out)

    def test_outputs_named_by_hdf5_attributes(self):
        # The dataset's own attributes win over its groups', which win over the file's.
        h5 = self.path("rec.h5")
        with h5py.File(h5, "w") as f:
            f.attrs.update({"experiment": "root-exp", "date": "2026-11-27", "rig": "r1"})
            g = f.create_group("session")
            g.attrs["experiment"] = "exp9"
            d = g.create_dataset("lfp", data=np.arange(60, dtype="f4").reshape(6, 10),
                                 chunks=(3, 5))
            d.attrs["rig"] = "r2"
        with open(self.path("p.toml"), "w") as f:
            f.write('[inputs]\nlfp = "rec.h5:/session/lfp"\n'
                    '[steps.centred]\nexpression = "lfp - 1"\n'
                    'output = "out/{experiment}_{date}_{rig}.zarr"\n')
        lines = run("run", self.path("p.toml")).stdout
        out = self.path("out/exp9_2026-11-27_r2.zarr")
        self.assertIn(out, lines)
        np.testing.assert_array_equal(zarr.open(out)[:], np.arange(60).reshape(6, 10) - 1)
        with open(self.path("p.toml"), "a") as f:
            f.write('[steps.other]\nexpression = "lfp"\noutput = "{subject}.zarr"\n')
        p = run("run", self.path("p.toml"), check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("{subject}", p.stderr)
        self.assertIn("experiment", p.stderr)  # the names the inputs do hold


class Verify(TempDirCase):
    def setUp(self):
        super().setUp()
        self.a = self.path("a.zarr")
        zarr.open(self.a, mode="w", shape=(30, 40), chunks=(10, 10), dtype="i4")[:] = \
            np.arange(1200).reshape(30, 40)
        self.out = self.path("v.zarr")
        run("eval", "a * a - 3", "-i", f"a={self.a}", "-o", self.out)

    def test_an_intact_output_verifies(self):
        self.assertIn("12 chunks match their digests and recompute to the same bits",
                      run("verify", self.out).stdout)
        self.assertIn("12 chunks match their digests", run("verify", self.out, "--digests").stdout)

    def test_a_tampered_chunk_is_named(self):
        z = zarr.open(self.out, mode="r+")
        z[15, 25] = 0  # chunk 1.2, rewritten by zarr-python: a valid chunk with other values
        self.assert_error(["verify", self.out, "--digests"], 1, "chunk 1.2", "differ")
        self.assert_error(["verify", self.out], 1, "chunk 1.2")

    def test_a_changed_input_is_named(self):
        zarr.open(self.a, mode="r+")[0, 0] = 5
        self.assert_error(["verify", self.out], 1, "input 'a'", "changed since")
        run("verify", self.out, "--digests")  # the stored chunks are as written

    def test_copies_and_conversions_are_compared_with_their_source(self):
        # No manifest: the copy (or conversion) against the source it records, value for value.
        values = np.arange(1200, dtype="f8").reshape(30, 40)
        values[3, 4] = np.nan  # NaN equals NaN here
        src = self.path("f.zarr")
        zarr.open(src, mode="w", shape=(30, 40), chunks=(10, 10), dtype="f8")[:] = values
        copied, h5 = self.path("c.zarr"), self.path("c.h5")
        run("copy", src, copied, "--chunks", "7,9")
        outputs = [copied]
        if os.environ.get("CHUNKARR_WITH_HDF5") != "0":
            run("convert", src, h5, "--chunks", "16,16")
            outputs.append(h5 + ":/f")
        for out in outputs:
            self.assertIn(f"equal their source {os.path.realpath(src)}", run("verify", out).stdout)
            p = run("verify", out, "--digests", check=False)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("records no digests", p.stderr)
        zarr.open(src, mode="r+")[25, 33] = -1.0  # copied chunk (3, 3); the HDF5 one (1, 2)
        for out, chunk in zip(outputs, ["chunk 3.3:", "chunk 1.2:"]):
            p = run("verify", out, check=False)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(chunk, p.stderr)
            self.assertIn("differs from its source", p.stderr)

    def test_not_a_chunkarr_output(self):
        self.assert_error(["verify", self.a], 1, "no chunkarr provenance")


class Run(TempDirCase):
    """chunkarr run: a pipeline file's steps in dependency order, each incremental."""

    def setUp(self):
        super().setUp()
        root = zarr.open_group(self.path("exp.zarr"), mode="w")
        root.attrs.update({"experiment": "exp7", "date": "2026-11-27"})
        self.raw = root.create_dataset("raw", shape=(32, 600), chunks=(8, 100), dtype="f4")
        self.raw[:] = np.random.default_rng(2).normal(size=(32, 600)).astype("f4")
        self.file = self.path("p.toml")
        self.write_pipeline("""
[inputs]
raw = "exp.zarr/raw"

[steps.noise]   # reads the step below: run in dependency order
expression = "median(abs(scaled), axis=1)"
output = "out/{experiment}_{date}_noise.zarr"

[steps.scaled]
expression = "np.clip(raw * 2, -3, 3)"
output = "out/{experiment}_scaled.zarr"
codec = "zstd:3"
chunks = [8, 100]

[steps.shifted]
expression = "scaled[:, 50:550] + 1"
output = "out/shifted.zarr"
chunks = [8, 100]
""")

    def write_pipeline(self, text):
        with open(self.file, "w") as f:
            f.write(text)

    def lines(self, *flags):
        out = run("run", self.file, *flags).stdout.splitlines()
        return {l.split(" -> ")[0]: l for l in out}

    def test_steps_run_in_order_and_only_what_changed(self):
        first = self.lines()
        self.assertEqual(list(first), ["scaled", "noise", "shifted"])
        self.assertIn("computed 24 of 24 chunks (no earlier output)", first["scaled"])
        self.assertIn("out/exp7_2026-11-27_noise.zarr", first["noise"])
        scaled = self.path("out/exp7_scaled.zarr")
        raw = self.raw[:]
        np.testing.assert_array_equal(zarr.open(scaled)[:], np.clip(raw * 2, -3, 3))
        np.testing.assert_array_equal(zarr.open(self.path("out/shifted.zarr"))[:],
                                      np.clip(raw * 2, -3, 3)[:, 50:550] + 1)
        again = self.lines()
        for step in again.values():
            self.assertIn("up to date", step)

        zarr.open(self.path("exp.zarr/raw"), mode="r+")[9, 120] = 1.5  # raw's chunk (1, 1)
        dry = self.lines("--dry-run")
        self.assertIn("stale: 1 input chunks changed (1 of 24 chunks)", dry["scaled"])
        self.assertIn("stale: step scaled is stale", dry["noise"])
        files = chunk_files(scaled)
        after = self.lines()
        self.assertIn("computed 1 of 24 chunks", after["scaled"])
        self.assertEqual(rewritten(files, chunk_files(scaled)), ["1.1"])
        self.assertIn("computed 2 of 20 chunks", after["shifted"])  # columns 50..149, 150..249
        np.testing.assert_array_equal(zarr.open(self.path("out/shifted.zarr"))[:],
                                      np.clip(self.raw[:] * 2, -3, 3)[:, 50:550] + 1)
        forced = self.lines("--force", "scaled")
        self.assertIn("computed 24 of 24 chunks (forced)", forced["scaled"])
        self.assertIn("up to date", forced["shifted"])  # the same values again
        run("verify", self.path("out/shifted.zarr"))

    def test_graph(self):
        dot = run("run", self.file, "--graph").stdout
        self.assertTrue(dot.startswith("digraph pipeline {"))
        for edge in ('"raw" -> "scaled"', '"scaled" -> "noise"', '"scaled" -> "shifted"'):
            self.assertIn(edge, dot)
        self.assertFalse(os.path.exists(self.path("out")))

    def test_bad_pipelines_are_named(self):
        self.write_pipeline('[steps.a]\nexpression = "raw"\noutput = "x.zarr"\nextra = 1\n'
                            '[inputs]\nraw = "exp.zarr/raw"\n')
        self.assert_error(["run", self.file], 1, "p.toml", "steps.a.extra")
        self.write_pipeline('[inputs]\nraw = "exp.zarr/raw"\n[steps.a]\nexpression = "b + raw"\n'
                            'output = "a.zarr"\n[steps.b]\nexpression = "a"\noutput = "b.zarr"\n')
        self.assert_error(["run", self.file], 1, "cycle", "a, b")
        self.write_pipeline('[inputs]\nraw = "exp.zarr/raw"\n[steps.a]\nexpression = "raw"\n'
                            'output = "{subject}.zarr"\n')
        self.assert_error(["run", self.file], 1, "{subject}", "date, experiment")
        self.write_pipeline('[inputs]\nraw = "exp.zarr/raw"\n[steps.a]\nexpression = "raw +"\n'
                            'output = "a.zarr"\n')
        self.assert_error(["run", self.file], 1, "syntax error")
        self.write_pipeline("[steps.a\n")
        self.assert_error(["run", self.file], 1, "p.toml", "line 1")
        self.assert_error(["run", self.path("none.toml")], 1, "no such pipeline file")
        self.write_pipeline('[inputs]\nraw = "exp.zarr/raw"\n[steps.a]\nexpression = "raw"\n'
                            'output = "a.zarr"\n')
        self.assert_error(["run", self.file, "--force", "zz"], 2, "no such step")


class Resume(TempDirCase):
    """kill -9 at random moments of a run, then runs that resume it: the output is never
    there incomplete, each resumed run computes only what was not recorded, and the end
    result is bit for bit a clean run's."""

    def test_killed_runs_resume_to_the_clean_result(self):
        a = self.path("big.zarr")
        rng = np.random.default_rng(11)
        zarr.open(a, mode="w", shape=(400, 20000), chunks=(20, 2000), dtype="f8",
                  compressor=None)[:] = rng.normal(size=(400, 20000))
        expr = "sin(a)**2 + cos(a)**3 + exp(-a*a) + arctan(a)"
        clean = self.path("clean.zarr")
        run("eval", expr, "-i", f"a={a}", "-o", clean, "--threads", "1")
        out = self.path("out.zarr")
        args = [cli_harness.CHUNKARR, "eval", expr, "-i", f"a={a}", "-o", out, "--incremental",
                "--threads", "1"]
        rnd = random.Random(4)
        kills = 0
        log = self.path("stderr.txt")
        for attempt in range(12):
            with open(log, "w") as err:
                p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
                time.sleep(rnd.uniform(0.05, 0.5))
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    kills += 1
                p.wait()
            if os.path.exists(out):  # only a committed run puts it there
                # (killed, if at all, after its commit: before it said what it computed)
                self.assertIn(p.returncode, (0, -signal.SIGKILL))
                break
            self.assertTrue(os.path.exists(out + ".chunkarr-partial"))
        self.assertGreater(kills, 0)
        if os.path.exists(out):  # a resumed run finished it, computing what was left
            with open(log) as f:
                done = f.read()
        else:
            done = run(*args[1:]).stderr
        if p.returncode == 0 or not os.path.exists(out) or "computed" in done:
            self.assertRegex(done, r"computed \d+ of 200 chunks \(resuming: ")
            self.assertLess(int(done.split("computed ")[1].split()[0]), 200)
        else:  # killed between its commit and its report: complete all the same
            self.assertIn("up to date", run(*args[1:]).stderr)
        np.testing.assert_array_equal(zarr.open(out)[:], zarr.open(clean)[:])
        self.assertFalse(os.path.exists(out + ".chunkarr-partial"))
        run("verify", out, "--digests")


if __name__ == "__main__":
    cli_harness.main()
