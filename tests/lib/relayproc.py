"""Starts the real relay binary on a free loopback port for a test.

The binary is $REFLECTOR (default build/reflector), so the same tests run
against the plain, ASan and TSan builds.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def binary():
    return os.environ.get("REFLECTOR", os.path.join(ROOT, "build", "reflector"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Relay:
    """A running relay. Use as a context manager; stop() returns the exit code."""

    def __init__(self, *args, threads=2, log_level="warn", port=None, wait=True, preexec_fn=None):
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.log = tempfile.NamedTemporaryFile(prefix="reflector-", suffix=".log", delete=False)
        cmd = [binary(), "--listen", f"{self.host}:{self.port}", "--threads", str(threads),
               "--log-level", log_level, *args]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"relay exited with {self.proc.returncode}: {self.output()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("relay did not start listening: " + self.output())

    @property
    def url(self):
        return f"ws://{self.host}:{self.port}/"

    def output(self):
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("relay did not exit after signal")
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        code = self.stop()
        out = self.output()
        self.log.close()
        os.unlink(self.log.name)
        # A sanitizer report anywhere in the log fails the test that ran it.
        if "Sanitizer" in out or "runtime error:" in out:
            raise AssertionError("sanitizer report from relay:\n" + out)
        if code not in (0, None) and exc[0] is None:
            raise AssertionError(f"relay exited with {code}:\n{out}")
        return False
