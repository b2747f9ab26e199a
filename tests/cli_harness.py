"""Shared by the Python test scripts: argument handling and running the chunkarr binary."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

CHUNKARR = None
SAMPLES = None


def main():
    """Parses --chunkarr and --samples, then runs the unittest cases of __main__."""
    global CHUNKARR, SAMPLES
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunkarr", required=True)
    parser.add_argument("--samples", required=True)
    args, rest = parser.parse_known_args()
    CHUNKARR, SAMPLES = os.path.abspath(args.chunkarr), os.path.abspath(args.samples)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=1)


def run(*args, check=True):
    """Runs chunkarr; returns the CompletedProcess (text mode)."""
    p = subprocess.run([CHUNKARR, *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"chunkarr {' '.join(map(str, args))} exited {p.returncode}:\n"
                             f"{p.stderr}")
    return p


def cat_json(path):
    return json.loads(run("cat", path, "--json").stdout)


class TempDirCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="chunkarr-py-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def assert_error(self, args, code, *needles):
        """chunkarr `args` exits `code` with one line on stderr containing every needle."""
        p = run(*args, check=False)
        self.assertEqual(p.returncode, code, f"{args}: {p.stderr}")
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        if code == 1:
            self.assertEqual(len(lines), 1, f"{args}: expected one line, got {p.stderr!r}")
        for needle in needles:
            self.assertIn(needle, p.stderr, f"{args}")
        return p
