#!/usr/bin/python3
"""Hostile conditions for the command line: chunks that are not files, link cycles in a tree,
a destination that appears while chunkarr writes it, processes killed (SIGKILL) or
interrupted (SIGINT, SIGTERM, SIGHUP) at random points. Each time: the destination is absent,
or complete and equal to a clean run; an old destination survives until the new one is
complete; the next run leaves no debris."""
import ctypes
import glob
import os
import random
import signal
import subprocess
import shutil
import time

import numpy as np
import zarr

import cli_harness
from cli_harness import TempDirCase, run


def dead_pid():
    """A PID that belonged to a process that has ended."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


class Common(TempDirCase):
    def make_source(self, name="src.zarr", shape=(240, 3000), chunks=(10, 250)):
        path = self.path(name)
        z = zarr.open(path, mode="w", shape=shape, chunks=chunks, dtype="<f8")
        rng = np.random.default_rng(len(name))
        z[:] = rng.standard_normal(shape)
        return path, z[:]

    def start(self, *args):
        return subprocess.Popen([cli_harness.CHUNKARR, *map(str, args)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for_staging(self, proc, dst, timeout=30):
        """Waits until `proc` has begun writing `dst` (its staging directory exists)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if glob.glob(glob.escape(dst) + ".chunkarr-tmp-*"):
                return True
            if proc.poll() is not None:
                return False
            time.sleep(0.0005)
        self.fail(f"{dst}: no staging directory after {timeout} s")

    def debris(self):
        return sorted(n for n in os.listdir(self.tmp) if ".chunkarr-" in n)


class UnreadableChunks(Common):
    """A chunk that is not a regular file is an error, never a fill value or a hang."""

    def replace_chunk(self, src, how):
        chunk = os.path.join(src, "0.0")
        os.remove(chunk)
        if how == "fifo":
            os.mkfifo(chunk)
        elif how == "loop":
            os.symlink("0.0", chunk)
        else:
            os.symlink(how, chunk)

    def test_fifo_device_and_link_loop_chunks(self):
        for how, needle in [("fifo", "FIFO"), ("/dev/zero", "character device"),
                            ("/dev/urandom", "character device"),
                            ("loop", "Too many levels of symbolic links")]:
            with self.subTest(how=how):
                src, _ = self.make_source(f"src-{how.replace('/', '')}.zarr", shape=(40, 30),
                                          chunks=(10, 10))
                self.replace_chunk(src, how)
                dst = self.path(f"dst-{how.replace('/', '')}.zarr")
                self.assert_error(["copy", src, dst], 1, "0.0", needle)
                self.assertFalse(os.path.exists(dst))
                self.assert_error(["eval", "sum(a)", "-i", f"a={src}"], 1, "0.0", needle)
                self.assert_error(["cat", src], 1, "0.0", needle)
        self.assertEqual(self.debris(), [])


class HugeChunkGrids(Common):
    """A 125-byte .zarray can describe 10^12 chunks: what is asked of it must cost what the
    stored chunks and the selection do, not the grid (run with a 1 GiB address-space cap)."""

    def run_capped(self, *args):
        def cap():
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        # AddressSanitizer reserves terabytes of address space for its shadow, so a sanitizer
        # build runs uncapped: it refuses a multi-terabyte allocation by itself.
        ldd = subprocess.run(["ldd", cli_harness.CHUNKARR], capture_output=True, text=True)
        sanitized = "libasan" in ldd.stdout
        return subprocess.run([cli_harness.CHUNKARR, *map(str, args)], capture_output=True,
                              text=True, timeout=60, preexec_fn=None if sanitized else cap)

    def test_selection_and_sparse_copy_of_a_trillion_chunks(self):
        src = self.path("huge.zarr")
        z = zarr.open(src, mode="w", shape=(10**12,), chunks=(1,), dtype="<i4", fill_value=-3)
        z[5] = 42
        z[10**12 - 2] = 9
        p = self.run_capped("eval", "x[3:8]", "-i", f"x={src}")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["[-3", "-3", "42", "-3", "-3]"])
        p = self.run_capped("eval", "x[::-1][:3]", "-i", f"x={src}")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["[-3", "9", "-3]"])
        dst = self.path("copy.zarr")
        p = self.run_capped("copy", src, dst)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = zarr.open(dst, mode="r")
        self.assertEqual(out.shape, (10**12,))
        self.assertEqual(sorted(k for k in os.listdir(dst) if not k.startswith(".")),
                         ["5", str(10**12 - 2)])
        self.assertEqual(out[4:7].tolist(), [-3, 42, -3])
        self.assertEqual(out[10**12 - 2], 9)
        p = self.run_capped("info", src)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("2 of 1000000000000", p.stdout)


class LinkCycles(Common):
    def test_group_with_self_and_parent_links_is_walked_once(self):
        root = self.path("exp.zarr")
        g = zarr.open_group(root, mode="w")
        g.create_group("sub").array("x", np.arange(12.0), chunks=(5,))
        os.symlink(".", os.path.join(root, "self"))
        os.symlink("..", os.path.join(root, "sub", "up"))
        info = run("info", root).stdout
        self.assertIn("sub/", info)
        self.assertIn("x  (12,) float64", info)
        self.assertNotIn("── self", info)
        self.assertNotIn("── up", info)
        dst = self.path("copy.zarr")
        run("copy", root, dst)
        self.assertEqual(sorted(zarr.open_group(dst, mode="r").keys()), ["sub"])
        np.testing.assert_array_equal(zarr.open(dst + "/sub/x", mode="r")[:], np.arange(12.0))


class DamagedHdf5Heap(Common):
    """libhdf5 follows a variable-length string's global-heap ID without checks: a damaged heap
    crashes or hangs it (h5py too). chunkarr reads such attributes in a child process and skips
    them, naming the damage; the data and every other attribute still convert."""

    def make_file(self):
        import h5py
        h5 = self.path("v.h5")
        with h5py.File(h5, "w") as f:
            d = f.create_dataset("x", data=np.arange(10, dtype="i4"))
            d.attrs["name"] = "hello world string"
            d.attrs["names"] = np.array(["a", "bb", "ccc"], dtype=h5py.string_dtype())
            d.attrs["n"] = 7
            f.attrs["title"] = np.bytes_("fixed")
        with open(h5, "rb") as f:
            data = bytearray(f.read())
        heap = data.find(b"GCOL")  # the global heap collection holding the strings
        self.assertGreater(heap, 0)
        # Heap IDs in the object header: length (4 bytes), collection address (8), index (4).
        address = heap.to_bytes(8, "little")
        ids = [i - 4 for i in range(len(data) - 12) if data[i:i + 8] == address]
        self.assertEqual(len(ids), 4)  # 'name' and the three of 'names'
        return h5, data, heap, ids

    def damaged(self, name, data, offset, value, size):
        out = bytearray(data)
        out[offset:offset + size] = value.to_bytes(size, "little")
        path = self.path(name + ".h5")
        with open(path, "wb") as f:
            f.write(out)
        return path

    def test_crash_hang_and_bad_text_cost_only_the_attributes(self):
        h5, data, heap, ids = self.make_file()
        if "built without HDF5 support" in run("info", h5, check=False).stderr:
            self.skipTest("built without HDF5")
        cases = {
            # an object index far past the collection's: libhdf5 reads outside its table
            "crash": (ids[0] + 12, 70000, 4, "crashed reading it"),
            # the second object's size 216 instead of 3: libhdf5 loops forever
            "hang": (heap + 64, 216, 8, "did not finish reading it"),
            # a byte of 'hello world string' made 0xEB: not UTF-8
            "text": (heap + 37, 0xEB, 1, "not UTF-8"),
        }
        for case, (offset, value, size, cause) in cases.items():
            with self.subTest(case):
                src = self.damaged(case, data, offset, value, size)
                dst = self.path(case + ".zarr")
                p = run("convert", src, dst)
                warnings = p.stderr.strip().splitlines()
                self.assertTrue(warnings)
                self.assertTrue(all(case + ".h5:/x: attribute 'name" in w and cause in w
                                    for w in warnings), p.stderr)
                out = zarr.open_group(dst, mode="r")
                np.testing.assert_array_equal(out["x"][:], np.arange(10))
                self.assertEqual(out["x"].attrs["n"], 7)
                self.assertEqual(out.attrs["title"], "fixed")
                if case == "text":  # only 'name' is damaged
                    self.assertEqual(out["x"].attrs["names"], ["a", "bb", "ccc"])
                    self.assertNotIn("name", out["x"].attrs)
                else:
                    self.assertFalse({"name", "names"} & set(out["x"].attrs))
                if case != "hang":  # info waits the same 10 s
                    p = run("info", src + ":/x")
                    self.assertIn("(10,) int32", p.stdout)
        # The undamaged file keeps every attribute.
        out = self.path("v.zarr")
        run("convert", h5, out)
        attrs = dict(zarr.open(out + "/x", mode="r").attrs)
        self.assertEqual(attrs.pop("chunkarr")["expression"], "convert")  # its provenance
        self.assertEqual(attrs, {"name": "hello world string", "names": ["a", "bb", "ccc"], "n": 7})


class ConcurrentWriters(Common):
    def test_destination_that_appears_while_writing_is_kept(self):
        src, values = self.make_source()
        dst = self.path("dst.zarr")
        for attempt in range(5):
            proc = self.start("copy", src, dst, "--threads", "1")
            if not self.wait_for_staging(proc, dst):
                proc.communicate()
                continue  # finished before we could interfere: try again
            os.mkdir(dst)
            with open(os.path.join(dst, "mine.txt"), "w") as f:
                f.write("someone else's")
            _, err = proc.communicate(timeout=120)
            if proc.returncode == 0:  # it committed before our mkdir: impossible with NOREPLACE
                self.fail(f"copy replaced a destination that appeared meanwhile: {err}")
            self.assertEqual(proc.returncode, 1, err)
            self.assertIn("already exists", err)
            self.assertEqual(os.listdir(dst), ["mine.txt"])
            self.assertEqual(self.debris(), [])
            break
        else:
            self.skipTest("copy always finished before the destination could appear")
        # With --overwrite it is replaced, whole.
        run("copy", src, dst, "--overwrite")
        np.testing.assert_array_equal(zarr.open(dst, mode="r")[:], values)

    def test_two_copies_to_one_destination(self):
        src, values = self.make_source()
        dst = self.path("dst.zarr")
        procs = [self.start("copy", src, dst, "--threads", "1") for _ in range(2)]
        results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
        codes = sorted(r[2] for r in results)
        # Both may have checked before either committed; only one commit can win.
        self.assertIn(codes, ([0, 1],), results)
        self.assertIn("already exists", [r[1] for r in results if r[2] == 1][0])
        np.testing.assert_array_equal(zarr.open(dst, mode="r")[:], values)
        self.assertEqual(self.debris(), [])


class TornReads(Common):
    def test_reader_during_a_replacement_sees_old_or_new_or_is_told(self):
        """The tree at DST is replaced the way an --overwrite commit does it (renameat2
        RENAME_EXCHANGE, then the old tree removed) while `eval` reads it: the reader gets the
        old sum, the new one, or an error saying the array was replaced; never a mixture."""
        libc = ctypes.CDLL(None, use_errno=True)
        rename_exchange = 2
        shape, chunks = (400, 10000), (10, 100)  # 4000 chunks: a read takes a while
        n = shape[0] * shape[1]
        seen = {"old": 0, "new": 0, "told": 0}
        rng = random.Random(4)
        for trial in range(6):
            dst, staged = self.path(f"dst{trial}.zarr"), self.path(f"staged{trial}.zarr")
            for path, value in ((dst, 1.0), (staged, 2.0)):
                z = zarr.open(path, mode="w", shape=shape, chunks=chunks, dtype="<f8",
                              compressor=None)
                z[:] = value
            reader = self.start("eval", "sum(a)", "-i", f"a={dst}", "--threads", "1")
            time.sleep(rng.uniform(0.02, 0.3))
            rc = libc.renameat2(-100, staged.encode(), -100, dst.encode(), rename_exchange)
            self.assertEqual(rc, 0, os.strerror(ctypes.get_errno()))
            shutil.rmtree(staged)  # the old tree, now at the staging name
            out, err = reader.communicate(timeout=120)
            if reader.returncode == 0:
                self.assertIn(float(out), (float(n), 2.0 * n), f"a mixture: {out}")
                seen["old" if float(out) == n else "new"] += 1
            else:
                self.assertEqual(reader.returncode, 1, err)
                self.assertIn("replaced or removed while it was being read", err)
                seen["told"] += 1
            shutil.rmtree(dst)
        # The replacement came in the middle of reads, not only before or after them.
        self.assertGreater(seen["told"] + seen["old"], 0, seen)


class Kills(Common):
    def check_destination(self, dst, expected, old=None):
        if not os.path.exists(dst):
            self.assertIsNone(old, "the old destination was lost")
            return "absent"
        got = zarr.open(dst, mode="r")[:]
        if old is not None and got.shape == old.shape and np.array_equal(got, old):
            return "old"
        np.testing.assert_array_equal(got, expected)
        return "new"

    def test_sigkill_at_random_points(self):
        src, values = self.make_source()
        _, old = self.make_source("old.zarr", shape=(7,), chunks=(3,))
        rng = random.Random(9)
        outcomes = {}
        commands = [
            ("copy", lambda dst: ["copy", src, dst, "--threads", "1"], values, False),
            ("copy --overwrite", lambda dst: ["copy", src, dst, "--overwrite"], values, True),
            ("eval -o", lambda dst: ["eval", "a * 2", "-i", f"a={src}", "-o", dst],
             values * 2, False),
            ("eval -o --overwrite",
             lambda dst: ["eval", "a * 2", "-i", f"a={src}", "-o", dst, "--overwrite"],
             values * 2, True),
        ]
        kills = 0
        for name, args, expected, overwrite in commands:
            # Kill points spread over a clean run's duration (and past it), however fast this
            # build is (a sanitizer build is several times slower).
            clean = self.path("clean.zarr")
            started = time.monotonic()
            run(*args(clean))
            span = 1.3 * (time.monotonic() - started)
            shutil.rmtree(clean)
            for trial in range(15):
                dst = self.path(f"dst-{kills}.zarr")
                if overwrite:
                    run("copy", self.path("old.zarr"), dst)
                proc = self.start(*args(dst))
                time.sleep(rng.uniform(0.0, span))
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                kills += 1
                state = self.check_destination(dst, expected, old if overwrite else None)
                outcomes[state] = outcomes.get(state, 0) + 1
                # The next run of the same command removes the dead writer's debris and
                # completes.
                rerun = args(dst)
                if not overwrite and os.path.exists(dst):
                    rerun = rerun + ["--overwrite"]
                run(*rerun)
                self.assertEqual(self.check_destination(dst, expected), "new")
                self.assertEqual(self.debris(), [], f"{name}, trial {trial}")
        self.assertGreaterEqual(kills, 50)
        # The random points covered both sides of the commit.
        self.assertGreater(outcomes.get("new", 0), 0, outcomes)
        self.assertGreater(outcomes.get("absent", 0) + outcomes.get("old", 0), 0, outcomes)

    def test_interrupt_removes_unfinished_output_and_ends_by_the_signal(self):
        src, _ = self.make_source()
        _, old = self.make_source("old.zarr", shape=(7,), chunks=(3,))
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with self.subTest(sig=sig):
                dst = self.path(f"dst-{int(sig)}.zarr")
                run("copy", self.path("old.zarr"), dst)
                proc = self.start("copy", src, dst, "--overwrite", "--threads", "1")
                if not self.wait_for_staging(proc, dst):
                    proc.communicate()
                    self.skipTest("copy finished before it could be interrupted")
                proc.send_signal(sig)
                _, err = proc.communicate(timeout=60)
                if proc.returncode == 0:
                    continue  # the signal came after the last task: the copy is complete
                self.assertEqual(proc.returncode, -sig, err)
                self.assertIn("interrupted", err)
                np.testing.assert_array_equal(zarr.open(dst, mode="r")[:], old)
                self.assertEqual(self.debris(), [])

    def test_orphaned_old_tree_is_put_back(self):
        # A replacement interrupted between its two renames (where renameat2 is missing) leaves
        # the old tree aside and no destination; the next writer restores it.
        src, _ = self.make_source("src.zarr", shape=(4,), chunks=(2,))
        _, old = self.make_source("old.zarr", shape=(7,), chunks=(3,))
        dst = self.path("dst.zarr")
        os.rename(self.path("old.zarr"), f"{dst}.chunkarr-old-{dead_pid()}")
        os.mkdir(f"{dst}.chunkarr-tmp-{dead_pid()}-0-new")
        self.assert_error(["copy", src, dst], 1, "already exists")
        np.testing.assert_array_equal(zarr.open(dst, mode="r")[:], old)
        self.assertEqual(self.debris(), [])



class FaultInjection(Common):
    """ENOSPC and EIO at each file-system write of a command in turn (tests/fault_inject.cpp,
    preloaded): it fails with one line naming the cause, or, when the write it lost was only
    advice (sync_file_range), succeeds with the right result; the destination is absent (the
    old one intact under --overwrite) and no debris is left."""

    LIB = os.environ.get("CHUNKARR_FAULT_INJECT")

    def run_faulty(self, args, **env):
        e = dict(os.environ, LD_PRELOAD=self.LIB, **{k: str(v) for k, v in env.items()})
        # A sanitizer build wants its runtime first; the preloaded library only wraps calls.
        e["ASAN_OPTIONS"] = e.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
        return subprocess.run([cli_harness.CHUNKARR, *map(str, args)], capture_output=True,
                              text=True, timeout=120, env=e)

    def check_command(self, name, args, dst, expected, old=None, read=None):
        read = read or (lambda path: zarr.open(path, mode="r")[:])
        count_file = self.path("count")
        p = self.run_faulty(args(dst), CHUNKARR_FAULT_COUNT=count_file)
        self.assertEqual(p.returncode, 0, p.stderr)
        np.testing.assert_array_equal(read(dst), expected)
        with open(count_file) as f:
            writes = int(f.read())
        self.assertGreater(writes, 3)
        # An odd stride: a chunk's writes come in fours (create, write, advice, rename), and an
        # even stride could land on nothing but the advice, whose loss is not an error.
        stride = max(1, writes // 40) | 1
        points = sorted(set(range(1, writes + 1, stride)) | {writes})
        failed = late = 0
        for at in points:
            for err, text in ((28, "No space left on device"), (5, "Input/output error")):
                if old is None:
                    shutil.rmtree(dst, ignore_errors=True)
                    if os.path.isfile(dst):
                        os.remove(dst)
                else:
                    old()
                p = self.run_faulty(args(dst), CHUNKARR_FAULT_AT=at, CHUNKARR_FAULT_ERRNO=err)
                where = f"{name}: write {at} of {writes} failing with {text}"
                if p.returncode == 0:
                    np.testing.assert_array_equal(read(dst), expected, err_msg=where)
                else:
                    failed += 1
                    self.assertEqual(p.returncode, 1, f"{where}: {p.stderr}")
                    lines = [l for l in p.stderr.splitlines() if l.strip()]
                    self.assertEqual(len(lines), 1, f"{where}: {p.stderr!r}")
                    self.assertIn(text, p.stderr, where)
                    if "is complete and in place" in p.stderr:
                        # The last write: syncing the directory after the rename.
                        np.testing.assert_array_equal(read(dst), expected, err_msg=where)
                        late += 1
                    elif old is None:
                        self.assertFalse(os.path.exists(dst), where)
                    else:
                        np.testing.assert_array_equal(read(dst), old.values, err_msg=where)
                self.assertEqual(self.debris(), [], where)
        self.assertGreater(failed, len(points))  # most lost writes are errors
        self.assertLessEqual(late, 2)  # only the directory's own sync comes after the commit
        return writes, 2 * len(points)

    def test_every_write_of_copy_eval_and_convert(self):
        if not self.LIB or not os.path.exists(self.LIB):
            self.skipTest("the preload library (CHUNKARR_FAULT_INJECT) is not built here")
        src, values = self.make_source(shape=(40, 30), chunks=(10, 10))
        _, old_values = self.make_source("old.zarr", shape=(7,), chunks=(3,))

        def restore_old(dst):
            def put_back():
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(self.path("old.zarr"), dst)
            put_back.values = old_values
            return put_back

        tried = {}
        tried["copy"] = self.check_command(
            "copy", lambda d: ["copy", src, d], self.path("c.zarr"), values)
        tried["copy --overwrite"] = self.check_command(
            "copy --overwrite", lambda d: ["copy", src, d, "--overwrite", "--chunks", "7,7"],
            self.path("co.zarr"), values, old=restore_old(self.path("co.zarr")))
        tried["eval -o"] = self.check_command(
            "eval -o", lambda d: ["eval", "a * 2", "-i", f"a={src}", "-o", d],
            self.path("e.zarr"), values * 2)
        import h5py
        h5 = self.path("src.h5")
        with h5py.File(h5, "w") as f:
            f.create_dataset("x", data=values, chunks=(10, 10), compression="gzip")
        probe = run("info", h5, check=False)
        if "built without HDF5 support" not in probe.stderr:
            out_dir = self.path("from_h5.zarr")
            tried["convert to Zarr"] = self.check_command(
                "convert to Zarr", lambda d: ["convert", h5, d], out_dir, values,
                read=lambda p: zarr.open(p, mode="r")["x"][:])
            def read_h5(p):
                with h5py.File(p, "r") as f:
                    return f["src"][:]  # the dataset is named after the array
            tried["convert to HDF5"] = self.check_command(
                "convert to HDF5", lambda d: ["convert", src, d], self.path("to.h5"), values,
                read=read_h5)
        print(f"\nfault injection (writes in a clean run, failing runs tried): {tried}")


if __name__ == "__main__":
    cli_harness.main()
