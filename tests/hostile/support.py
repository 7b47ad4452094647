"""Shared by the hostile cases: HostileCase (the relay under test, started
by tests/lib/relayproc.py with its counters, RSS, fds, CPU time and log,
and what every case must hold at its end), the well-behaved registered
pair that runs beside every case (pair.mjs), and the Node agent for cases
that need registered clients (agent.mjs). The raw clients are
tests/lib/asyncws.py (thousands of connections) and tests/lib/syncws.py.

Every wait has a timeout and every loop a bound: a relay that misbehaves
makes a case fail, never hang. Only loopback addresses are contacted.
"""
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

from tests.lib.relayproc import ROOT, Relay

HERE = os.path.dirname(os.path.abspath(__file__))
# The pair connects from its own loopback address, so per-address limits
# on 127.0.0.1 leave it alone.
PAIR_HOST = "127.0.0.9"
NODE = os.environ.get("NODE", "node")
# relay/shard.c: each shard's operator log passes 10 lines a second.
LOG_LINES_PER_SHARD_SECOND = 10

# The pair's envelopes while a case runs: the median round trip and the
# worst one. Loose enough for a loaded 2-core machine, tight enough that a
# relay stalled by a hostile client (a blocked shard, a spinning loop)
# fails.
PAIR_P50_MS = float(os.environ.get("HOSTILE_PAIR_P50_MS", "100"))
PAIR_MAX_MS = float(os.environ.get("HOSTILE_PAIR_MAX_MS", "1500"))


def ms(t):
    return round(t * 1000, 1)


# ---------------------------------------------------------------- node helpers

class NodeLines:
    """A Node script printing JSON lines; read by a thread into .events as
    (monotonic time, dict)."""

    def __init__(self, script, *args, stdin=True):
        self.stderr = tempfile.TemporaryFile()  # closed by close()
        self.proc = subprocess.Popen([NODE, os.path.join(HERE, script), *map(str, args)],
                                     stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True, cwd=ROOT)
        self.events = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "junk", "line": line[:200]}
            with self.lock:
                self.events.append((time.monotonic(), ev))

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, ev in self.snapshot():
                if pred(ev):
                    return ev
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader take the last lines
                for _, ev in self.snapshot():
                    if pred(ev):
                        return ev
                raise AssertionError("%s: node exited with %s before it; events %s; stderr %s"
                                     % (what, self.proc.returncode, self.snapshot()[-5:], self.stderr_text()))
            time.sleep(0.05)
        raise AssertionError("%s: not within %.0f s; last events %s" % (what, timeout, self.snapshot()[-5:]))

    def stderr_text(self):
        if self.stderr.closed:
            return ""
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-2000:]

    def close(self, timeout=15.0):
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.proc.stdout.close()
        return self.proc.returncode

    def dispose(self):
        self.close(timeout=5)
        self.stderr.close()


class Pair(NodeLines):
    """The well-behaved registered pair (pair.mjs)."""

    def __init__(self, relay, interval_ms=50):
        super().__init__("pair.mjs", relay.url, "--interval-ms", interval_ms, "--local-address", PAIR_HOST,
                         "--shards", relay.threads, "--max-seconds", 600)
        self.wait_for(lambda ev: ev.get("event") in ("ready", "error"), 30, "pair ready")
        errors = self.errors()
        if errors:
            raise AssertionError("pair could not start: %s %s" % (errors, self.stderr_text()))

    def errors(self, since=0.0):
        return [ev for t, ev in self.snapshot() if t >= since and ev.get("event") == "error"]

    def rtts(self, since, until=None):
        until = until if until is not None else float("inf")
        return [ev["ms"] for t, ev in self.snapshot() if since <= t <= until and ev.get("event") == "rtt"]

    def check(self, tc, since, until, what):
        """The pair kept exchanging envelopes with normal latency in [since, until]."""
        errors = self.errors(since)
        tc.assertEqual(errors, [], "%s: the registered pair saw errors" % what)
        rtts = sorted(self.rtts(since, until))
        span = max(until - since, 0.1)
        # 20 envelopes a second are sent; at least a few a second must arrive.
        tc.assertGreaterEqual(len(rtts), max(3, int(span * 4)),
                              "%s: the pair exchanged only %d envelopes in %.1f s" % (what, len(rtts), span))
        p50 = rtts[len(rtts) // 2]
        worst = rtts[-1]
        tc.assertLessEqual(p50, PAIR_P50_MS, "%s: pair median round trip %.1f ms" % (what, p50))
        tc.assertLessEqual(worst, PAIR_MAX_MS, "%s: pair worst round trip %.1f ms" % (what, worst))
        return {"envelopes": len(rtts), "p50_ms": p50, "max_ms": worst}

    def stop(self, tc):
        code = self.close()
        done = [ev for _, ev in self.snapshot() if ev.get("event") == "done"]
        tc.assertEqual(code, 0, "pair exited with %s: %s" % (code, self.stderr_text()))
        tc.assertTrue(done, "pair did not finish cleanly")
        tc.assertEqual(done[-1]["pending"], 0, "pair envelopes never delivered: %s" % done[-1])
        tc.assertEqual(self.errors(), [], "pair errors")


def run_agent(relay, mode, *args, timeout=60.0):
    """Runs agent.mjs MODE against the relay; returns its result dict."""
    a = NodeLines("agent.mjs", mode, relay.url, "--shards", relay.threads, *args, stdin=False)
    try:
        ev = a.wait_for(lambda ev: ev.get("event") in ("result", "error"), timeout, "agent " + mode)
        if ev.get("event") == "error":
            raise AssertionError("agent %s failed: %s\n%s" % (mode, ev.get("what"), a.stderr_text()))
        return ev
    finally:
        a.dispose()


# ---------------------------------------------------------------- the case frame

class HostileCase(unittest.TestCase):
    """start() a relay (and the pair beside it); stop() collects totals and
    checks what every case must hold: exit 0, no sanitizer report, the pair
    never saw an error, and a log no longer than the rate limit allows."""

    relay = None
    pair = None

    def start(self, *args, pair=True, threads=2, nofile=None):
        """The relay with these flags (at log level info, so its totals
        line arrives at exit, and --drain-timeout 1), and the pair beside it.
        nofile: RLIMIT_NOFILE for the relay alone."""
        self.relay = Relay(*args, threads=threads, nofile=nofile, log_level="info", drain_timeout=1)
        self.addCleanup(self._cleanup)
        if pair:
            self.pair = Pair(self.relay)
            # Let the pair settle before the case's window opens.
            self.pair.wait_for(lambda ev: ev.get("event") == "rtt", 10, "first pair envelope")
        return self.relay

    def _cleanup(self):
        if self.pair:
            self.pair.dispose()
        if self.relay:
            self.relay.cleanup()

    def stop(self):
        r = self.relay
        self.assertTrue(r.alive(), "the relay died: " + r.output()[-3000:])
        if self.pair:
            self.pair.stop(self)
        elapsed = time.monotonic() - r.started
        r.stop(timeout=30)
        out = r.output()
        self.assertIsNone(r.sanitizer_report(), "sanitizer report from the relay")
        self.assertEqual(r.exit_code, 0, "relay exit code; log:\n" + out[-3000:])
        self.assertIn("totals:", out)
        lines = len(r.log_lines())
        bound = r.threads * LOG_LINES_PER_SHARD_SECOND * (elapsed + 2) + 10
        self.assertLessEqual(lines, bound, "%d log lines in %.1f s" % (lines, elapsed))
        return r.totals

    def window(self, since, what, at_least_s=2.0):
        """Checks the pair over [since, now], waiting until the window is at
        least at_least_s long so there are envelopes to judge."""
        if not self.pair:
            return None
        left = since + at_least_s - time.monotonic()
        if left > 0:
            time.sleep(left)
        return self.pair.check(self, since, time.monotonic(), what)
