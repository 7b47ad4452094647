"""Readiness and the drain: GET /readyz answers 200 while the relay takes
new clients and 503 while it drains or is at --max-conns; on SIGTERM the
open WebSockets are closed with 1001 in batches spread over
--drain-timeout (not in one burst), new upgrades are refused with 503;
a second SIGTERM, or SIGINT, closes everyone at once."""
import asyncio
import signal
import time
import unittest

from tests.lib.asyncws import bounded_gather, close_writer, open_ws, raise_nofile, read_close, run_async
from tests.lib.rawhttp import http_get
from tests.lib.relayproc import Relay
from tests.lib.syncws import ws_handshake, ws_open
from tests.lib.wire import OP_CLOSE


def readyz(port):
    r = http_get(port, "/readyz")
    return r.status, r.body.decode().strip()


def readyz_becomes(port, want, timeout=3.0):
    """The first /readyz answer equal to want within timeout, else the last
    one. A probe's own connection counts until the relay has freed it, so
    right after one probe the next may still see it."""
    deadline = time.monotonic() + timeout
    got = readyz(port)
    while got != want and time.monotonic() < deadline:
        time.sleep(0.05)
        got = readyz(port)
    return got


class Readyz(unittest.TestCase):
    def test_ready_then_full_then_draining(self):
        with Relay("--max-conns", "3", "--drain-timeout", "4", log_level="info") as relay:
            self.assertEqual(readyz(relay.port), (200, "ready"))
            a, _ = ws_open(relay.port)
            b = None
            try:
                self.assertEqual(readyz_becomes(relay.port, (200, "ready")), (200, "ready"))
                b, _ = ws_open(relay.port)
                # Two clients and the probe: one more client would be refused.
                # (While an earlier probe's connection is still counted, the
                # probe is refused at accept: 503 busy.)
                self.assertEqual(readyz_becomes(relay.port, (503, "at --max-conns")), (503, "at --max-conns"))
                b.abort()
                self.assertEqual(readyz_becomes(relay.port, (200, "ready")), (200, "ready"),
                                 "ready again once a client left")
                # Draining: a keeps its WebSocket open (it does not answer
                # the close) while the listener still answers.
                relay.proc.send_signal(signal.SIGTERM)
                f = a.recv_frame(4, skip_pings=False)
                self.assertEqual(f.opcode, OP_CLOSE)
                self.assertEqual(readyz_becomes(relay.port, (503, "draining")), (503, "draining"))
                self.assertEqual(http_get(relay.port, "/healthz").status, 200, "liveness is not readiness")
                ws = ws_handshake(relay.port)
                ws.abort()
                self.assertEqual(ws.status, 503, "no new WebSocket while draining")
                self.assertEqual(ws.header("retry-after"), "5")
            finally:
                a.abort()
                if b:
                    b.abort()
                relay.stop()
        self.assertEqual(relay.count("refused_draining"), 1, relay.output()[-2000:])

    def test_head_and_post_are_not_readiness(self):
        with Relay() as relay:
            self.assertNotEqual(http_get(relay.port, "/readyz", method="POST").status, 200)


async def hold_and_time_closes(port, n, signal_fn, timeout):
    """Opens n WebSockets, calls signal_fn(), and returns for each the
    seconds from the signal to its close frame, and its close code."""
    conns = await bounded_gather([open_ws(port) for _ in range(n)], 50)
    bad = [c for c in conns if isinstance(c, Exception)]
    if bad:
        for c in conns:
            if not isinstance(c, Exception):
                close_writer(c[1])
        raise bad[0]
    t0 = time.monotonic()
    signal_fn()

    async def one(reader, writer):
        try:
            code, _ = await read_close(reader, timeout)
            at = time.monotonic() - t0
            # Answer the close, as a browser does.
            writer.write(bytes([0x88, 0x82, 1, 2, 3, 4, (code >> 8) ^ 1, (code & 0xff) ^ 2]))
            return at, code
        finally:
            close_writer(writer)

    return await asyncio.gather(*(one(r, w) for r, w in conns))


class Drain(unittest.TestCase):
    N = 200

    def test_closes_are_spread_over_the_window(self):
        raise_nofile(4 * self.N + 64)
        with Relay("--drain-timeout", "2", threads=2, log_level="info") as relay:
            t0 = time.monotonic()
            res = run_async(hold_and_time_closes(relay.port, self.N, lambda: relay.proc.send_signal(signal.SIGTERM),
                                                 6), 60)
            code = relay.proc.wait(timeout=6)
            elapsed = time.monotonic() - t0
            relay.stop()
        self.assertEqual(code, 0)
        times = sorted(t for t, _ in res)
        self.assertEqual({c for _, c in res}, {1001})
        # The window is 2 s less its margin (0.5 s): the first closes leave
        # at once, the last near 1.5 s; none after the drain.
        self.assertLess(times[0], 0.3, times[:5])
        self.assertGreater(times[-1], 1.0, times[-5:])
        self.assertLess(times[-1], 2.0, times[-5:])
        buckets = {}
        for t in times:
            buckets[int(t * 10)] = buckets.get(int(t * 10), 0) + 1
        self.assertLessEqual(max(buckets.values()), self.N // 4,
                             f"a burst: closes per 100 ms {sorted(buckets.items())}")
        self.assertGreaterEqual(len(buckets), 8, f"closes per 100 ms {sorted(buckets.items())}")
        # Half of them in the first half of the window, roughly.
        half = sum(1 for t in times if t < 0.75)
        self.assertTrue(self.N * 0.3 <= half <= self.N * 0.7, f"{half} of {self.N} in the first 0.75 s")
        self.assertEqual(relay.count("drain_closes"), self.N)
        self.assertLess(elapsed, 10)

    def test_second_sigterm_closes_everyone_at_once(self):
        raise_nofile(4 * 50 + 64)
        with Relay("--drain-timeout", "30", log_level="info") as relay:
            def twice():
                relay.proc.send_signal(signal.SIGTERM)
                time.sleep(0.3)
                relay.proc.send_signal(signal.SIGTERM)

            res = run_async(hold_and_time_closes(relay.port, 50, twice, 5), 30)
            code = relay.proc.wait(timeout=5)
            relay.stop()
        self.assertEqual(code, 0)
        times = sorted(t for t, _ in res)
        self.assertEqual({c for _, c in res}, {1001})
        self.assertLess(times[-1], 1.0, "everyone closed right after the second SIGTERM")
        # The drain had begun (its first batch), the fast stop closed the rest.
        self.assertTrue(1 <= relay.count("drain_closes") < 50, relay.output()[-2000:])
        self.assertIn("SIGTERM during the drain", relay.output())

    def test_sigint_is_fast(self):
        raise_nofile(4 * 50 + 64)
        with Relay("--drain-timeout", "30", log_level="info") as relay:
            res = run_async(hold_and_time_closes(relay.port, 50, lambda: relay.proc.send_signal(signal.SIGINT), 5), 30)
            code = relay.proc.wait(timeout=5)
            relay.stop()
        self.assertEqual(code, 0)
        self.assertLess(max(t for t, _ in res), 0.5)


if __name__ == "__main__":
    unittest.main()
