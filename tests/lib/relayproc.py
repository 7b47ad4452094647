"""Starts the real relay binary for a test, the one way every Python suite
does it: on a free 127.0.0.1 port with the given flags, waiting until it
accepts connections, its output captured in a log file; stopped with
SIGTERM; a sanitizer report in its log fails the test that ran it.

The binary is $REFLECTOR (default build/reflector), so the same tests run
against the plain, ASan and TSan builds; $RELAY_ARGS are flags every
relay gets before the test's own (tests/run.sh runs suites again with
RELAY_ARGS="--io epoll").
"""
import os
import re
import resource
import shlex
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from .testca import over_tls, run_ca
from .wire import HOST

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLK_TCK = os.sysconf("SC_CLK_TCK")
SANITIZER_MARKS = ("Sanitizer", "runtime error:")  # ASan/TSan/LSan reports, UBSan's
TOTALS = re.compile(r"totals:((?: \w+=\d+)+| none)")
# Logged at info once every shard runs (relay/main.c). The listeners exist
# before the shards' rings, so a TCP connect can succeed earlier than that.
READY = re.compile(r"\breflector \S+ listening on ")


def binary():
    return os.environ.get("REFLECTOR", os.path.join(ROOT, "build", "reflector"))


def extra_args():
    """$RELAY_ARGS as a list: flags for every relay a test starts."""
    return shlex.split(os.environ.get("RELAY_ARGS", ""))


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def run_cli(*args, timeout=10.0):
    """Run the relay binary with args and no stdin; returns CompletedProcess (text)."""
    return subprocess.run([binary(), *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def has_flag(flag):
    """The binary's --help names this flag."""
    r = run_cli("--help")
    return re.search(r"(^|\s)%s(\s|=|$)" % re.escape(flag), r.stdout + r.stderr, re.M) is not None


def known_flags(*pairs):
    """flag, value pairs, leaving out a flag the binary does not know: a
    regression case then also measures a relay from before the flag."""
    out = []
    for flag, value in zip(pairs[::2], pairs[1::2]):
        if has_flag(flag):
            out += [flag, value]
    return out


def sanitizer_report(text):
    """The part of a relay log from its first sanitizer report on, or None."""
    at = [i for i in (text.find(m) for m in SANITIZER_MARKS) if i >= 0]
    return text[max(0, min(at) - 200):] if at else None


class Relay:
    """A running relay. As a context manager: stopped at the end, and a
    sanitizer report or a non-zero exit fails the test.

    threads: --threads; log_level: --log-level (at info the relay logs its
    counters at exit, read by stop() into `totals`; None: no flag, the level
    comes from a config file or the default); drain_timeout:
    --drain-timeout when given; nofile: RLIMIT_NOFILE for the relay alone;
    metrics: --metrics-listen on a free port (`metrics_port`, `scrape()`);
    env: variables added to the relay's environment; launcher: a command
    the relay runs under (e.g. build/no-io-uring, which refuses io_uring).
    """

    def __init__(self, *args, threads=2, log_level="warn", drain_timeout=None, nofile=None, port=None, wait=True,
                 metrics=False, env=None, launcher=()):
        if not os.path.exists(binary()):
            raise RuntimeError("relay binary %s does not exist (make build/reflector)" % binary())
        self.host, self.port = HOST, port or free_port()
        self.threads, self.log_level = threads, log_level
        self.args = (["--drain-timeout", str(drain_timeout)] if drain_timeout is not None else []) + list(args)
        self.tls = "--tls-cert" in self.args
        if over_tls() and not self.tls:
            _, cert, key = run_ca()
            self.args += ["--tls-cert", cert, "--tls-key", key]
            self.tls = True
        self.totals = None
        self.exit_code = None
        self._final_output = None
        self.log = tempfile.NamedTemporaryFile(prefix="reflector-", suffix=".log", delete=False)
        self.metrics_port = free_port() if metrics else None
        cmd = [*launcher, binary(), "--listen", f"{self.host}:{self.port}", "--threads", str(threads),
               *(["--log-level", log_level] if log_level else []),
               *(["--metrics-listen", f"{self.host}:{self.metrics_port}"] if metrics else []), *extra_args(),
               *self.args]

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=limit if nofile else None,
                                     env=dict(os.environ, **env) if env else None)
        self.pid = self.proc.pid
        self.started = time.monotonic()
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=10.0):
        """Until the relay is ready; fails if it exits first. At log level
        info or debug: once it has logged that every shard runs (a TCP
        connect can succeed before that, the listeners are made first, and
        it would leave a connection of its own in the relay's counters and
        fds). At other levels: once it accepts a connection."""
        deadline = time.monotonic() + timeout
        by_log = self.log_level in ("info", "debug")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"relay exited with {self.proc.returncode}: {self.output()}")
            if by_log:
                if READY.search(self.output()):
                    return
            else:
                try:
                    with socket.create_connection((self.host, self.port), timeout=0.5):
                        return
                except OSError:
                    pass
            time.sleep(0.02)
        raise RuntimeError("relay did not start listening: " + self.output())

    @property
    def url(self):
        return f"wss://localhost:{self.port}/" if self.tls else f"ws://{self.host}:{self.port}/"

    # -- its log ----------------------------------------------------------
    def output(self):
        """Everything the relay has printed (kept after cleanup())."""
        if self._final_output is not None:
            return self._final_output
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()

    def log_lines(self, pattern=None):
        lines = self.output().splitlines()
        if pattern is None:
            return lines
        rx = re.compile(pattern)
        return [ln for ln in lines if rx.search(ln)]

    def sanitizer_report(self):
        return sanitizer_report(self.output())

    # -- metrics and reloads ----------------------------------------------
    def scrape(self):
        """GET /metrics (needs metrics=True), parsed: tests.lib.metrics.Scrape."""
        from .metrics import scrape
        return scrape(self.host, self.metrics_port)

    def reload(self, timeout=5.0):
        """SIGHUP, then wait until the relay has logged the reload's outcome
        (needs log level info for a reload that succeeds). Returns the
        outcome's line."""
        pattern = re.compile(r"reload (done|refused)")
        before = len(self.log_lines(pattern))
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.log_lines(pattern)
            if len(lines) > before:
                return lines[before]
            if self.proc.poll() is not None:
                raise AssertionError("relay exited on SIGHUP: " + self.output()[-2000:])
            time.sleep(0.02)
        raise AssertionError("no reload outcome logged within %.0f s: %s" % (timeout, self.output()[-2000:]))

    # -- /proc views of the running relay ---------------------------------
    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def cpu_seconds(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of stat; [0] here is field 3.
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    # -- stopping ---------------------------------------------------------
    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Signal the relay and wait for it; returns its exit code and reads
        its `totals:` line (logged at info) into `totals`."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("relay did not exit within %.0f s of signal %d" % (timeout, sig)) from None
        self.exit_code = self.proc.returncode
        self.totals = {}
        m = TOTALS.search(self.output())
        if m and m.group(1) != " none":
            for kv in m.group(1).split():
                k, v = kv.split("=")
                self.totals[k] = int(v)
        return self.exit_code

    def count(self, name):
        """A counter from the totals line (0 when absent)."""
        assert self.totals is not None, "stop() the relay first"
        return self.totals.get(name, 0)

    def cleanup(self):
        """Kill the relay if it still runs and remove its log file (output() still works)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._final_output is None:
            self._final_output = self.output()
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            code = self.stop()
        finally:
            self.cleanup()
        out = self.output()
        # A sanitizer report anywhere in the log fails the test that ran it.
        if self.sanitizer_report() is not None:
            raise AssertionError("sanitizer report from relay:\n" + out)
        if code not in (0, None) and exc[0] is None:
            raise AssertionError(f"relay exited with {code}:\n{out}")
        return False


class RelayTestCase(unittest.TestCase):
    """One relay for the whole TestCase class, started before its first test
    and stopped (and checked, as by Relay's context manager) after its last.
    RELAY_ARGS are its flags, THREADS its --threads; `relay` and `port` are
    set for the tests."""

    RELAY_ARGS = ()
    THREADS = 2
    relay = None
    port = None

    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(*cls.RELAY_ARGS, threads=cls.THREADS)
        cls.port = cls.relay.port

    @classmethod
    def tearDownClass(cls):
        if cls.relay is not None:
            relay, cls.relay = cls.relay, None
            relay.__exit__(None, None, None)
