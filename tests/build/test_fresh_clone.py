"""`make run` as the first command on a fresh clone.

On a bare machine `make deps` installs what the Makefile names: llhttp's C
sources (node-llhttp) and liburing's version in dpkg. If make looks at
either before deps ran, the first build fails ("No rule to make target
'build/obj/llhttp/llhttp.o'") or compiles an empty liburing version in.
Packages cannot be removed here, so the test stands in for them: it runs
the entry point in a copy of the tree with LLHTTP_SRC/LLHTTP_INC pointing
at folders that only a stand-in deps step (DEPS=...) creates, and with a
dpkg-query on PATH that answers only once that step ran and records any
earlier call.
"""
import os
import signal
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

from tests.lib.relayproc import ROOT, free_port

BUILD_TIMEOUT_S = 600  # a full plain build on a loaded 2-core machine

STAND_IN_DEPS = """#!/bin/sh
# Stands in for tests/deps.sh: "installs" llhttp's sources and header and
# the browser client's npm package, then lets dpkg-query answer.
set -e
[ "$1" = without-llhttp ] || {{
  mkdir -p {pkgs}/llhttp {pkgs}/include
  cp /usr/share/llhttp/*.c {pkgs}/llhttp/
  cp /usr/share/include/llhttp/llhttp.h {pkgs}/include/
}}
[ -d {tree}/proto/js/node_modules ] || cp -a {root}/proto/js/node_modules {tree}/proto/js/
touch {marker}
"""

FAKE_DPKG_QUERY = """#!/bin/sh
# dpkg as it is before deps ran: knows nothing, and notes who asked.
if [ ! -e {marker} ]; then
  echo "dpkg-query $*" >> {early}
  exit 1
fi
exec /usr/bin/dpkg-query "$@"
"""


def tracked_files():
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, check=True, capture_output=True).stdout
    return [f for f in out.decode().split("\0") if f]


def liburing_version():
    out = subprocess.run(["/usr/bin/dpkg-query", "-W", "-f=${Version}", "liburing-dev"],
                         check=True, capture_output=True, text=True).stdout
    return out.split("-")[0]


class FreshClone(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="reflector-fresh-")
        self.tree = os.path.join(self.tmp, "tree")
        for f in tracked_files():
            src = os.path.join(ROOT, f)
            if not os.path.isfile(src):
                continue  # deleted in the work tree, not yet committed
            dst = os.path.join(self.tree, f)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
        self.pkgs = os.path.join(self.tmp, "pkgs")
        self.marker = os.path.join(self.tmp, "deps-ran")
        self.early = os.path.join(self.tmp, "early-dpkg-query")
        fmt = dict(pkgs=self.pkgs, tree=self.tree, root=ROOT, marker=self.marker, early=self.early)
        self.deps = os.path.join(self.tmp, "deps.sh")
        with open(self.deps, "w") as f:
            f.write(STAND_IN_DEPS.format(**fmt))
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        with open(os.path.join(bindir, "dpkg-query"), "w") as f:
            f.write(FAKE_DPKG_QUERY.format(**fmt))
        for p in (self.deps, os.path.join(bindir, "dpkg-query")):
            os.chmod(p, 0o755)
        self.env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"])
        self.env.pop("MAKEFLAGS", None)
        self.env.pop("MAKELEVEL", None)
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def make(self, *args, deps=None):
        return ["make", "-C", self.tree, "--no-print-directory", "-j2",
                f"DEPS={deps or self.deps}",
                f"LLHTTP_SRC={self.pkgs}/llhttp", f"LLHTTP_INC={self.pkgs}/include", *args]

    def early_calls(self):
        if not os.path.exists(self.early):
            return ""
        with open(self.early) as f:
            return f.read()

    def test_make_run_first_on_a_fresh_clone(self):
        # The control: without the stand-in's llhttp the build must fail on
        # it, so the run below can only pass by finding what deps created.
        failed = subprocess.run(self.make("run", deps=self.deps + " without-llhttp"), env=self.env,
                                capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        self.assertNotEqual(failed.returncode, 0, failed.stdout)
        self.assertIn(f"No rule to make target '{self.pkgs}/include/llhttp.h'", failed.stderr)
        os.unlink(self.marker)

        port = free_port()
        log_path = os.path.join(self.tmp, "make-run.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(self.make("run", f"RUN_ARGS=--listen 127.0.0.1:{port} --threads 1 --www build/www"),
                                    env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + BUILD_TIMEOUT_S
            while True:
                exited = proc.poll() is not None
                with open(log_path, errors="replace") as f:
                    out = f.read()
                if " listening on " in out or exited or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.assertIn(" listening on ", out, f"make run did not start the relay:\n{out[-4000:]}")
            self.assertEqual(self.early_calls(), "", "dpkg-query ran before deps")
            self.assertIn(f"io_uring (liburing {liburing_version()})", out)
            # It serves what `make run` promises: the demo page and /healthz.
            base = f"http://127.0.0.1:{port}"
            with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
                self.assertEqual(r.status, 200)
            with urllib.request.urlopen(base + "/", timeout=5) as r:
                self.assertIn(b"<html", r.read().lower())
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)

    def test_entry_points_read_nothing_before_deps(self):
        # `make -n` of each README entry point, its sub-make shown rather
        # than run: deps comes first and nothing asked dpkg on the way.
        for target in ("run", "test", "bench", "bench-quick", "fuzz", "soak"):
            with self.subTest(target=target):
                r = subprocess.run(self.make("-n", target, "SUBMAKE=echo sub-make"), env=self.env,
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                lines = r.stdout.splitlines()
                self.assertEqual(lines[0], self.deps, r.stdout)
                self.assertTrue(lines[1].startswith("echo sub-make "), r.stdout)
                self.assertEqual(self.early_calls(), "", f"make -n {target} asked dpkg before deps")
                self.assertFalse(os.path.exists(self.pkgs))


if __name__ == "__main__":
    unittest.main()
