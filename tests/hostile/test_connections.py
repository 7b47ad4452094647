"""Hostile connections: slowloris, 10,000 connections that never finish the
handshake, 5,000 that never register, oversized heads, half-closed sockets,
resets mid-frame. Each case asserts its outcome (close, close code, error,
counter) and that the registered pair beside it keeps exchanging envelopes
with normal latency.
"""
import asyncio
import json
import socket
import time

from tests.lib.asyncws import (bounded_gather, close_writer, connect, handshake, raise_nofile, read_close, read_head,
                               read_text, run_async, wait_eof)
from tests.lib.wire import OP_TEXT, build_frame, upgrade_request

from .support import HostileCase


class Slowloris(HostileCase):
    def test_head_one_byte_a_second_is_cut_at_the_handshake_timeout(self):
        T, N = 3, 50
        r = self.start("--handshake-timeout", str(T))
        t0 = time.monotonic()

        async def one():
            reader, writer = await connect(r.port)
            start = time.monotonic()
            head, _ = upgrade_request(r.port)
            try:
                for i in range(len(head)):  # at most the whole head, a byte a second
                    writer.write(head[i:i + 1])
                    try:
                        data = await asyncio.wait_for(reader.read(4096), 1.0)
                    except asyncio.TimeoutError:
                        continue
                    except ConnectionResetError:
                        data = b""
                    if data:
                        return ("answered", data[:60])
                    return ("closed", time.monotonic() - start, i + 1)
                return ("never closed",)
            finally:
                close_writer(writer)

        results = run_async(bounded_gather([one() for _ in range(N)], N), 30)
        pair = self.window(t0, "slowloris")
        for res in results:
            self.assertNotIsInstance(res, Exception)
            self.assertEqual(res[0], "closed", res)
            # Never before the timeout; at most one 250 ms tick and some slack after.
            self.assertGreaterEqual(res[1], T - 0.1, res)
            self.assertLessEqual(res[1], T + 1.5, res)
        totals = self.stop()
        self.assertEqual(totals.get("handshake_timeouts", 0), N)
        self.assertEqual(totals.get("http_requests", 0), 2)  # the pair's
        print("\n  slowloris: %d cut after %.2f-%.2f s (%d-%d bytes); pair %s" % (
            N, min(x[1] for x in results), max(x[1] for x in results),
            min(x[2] for x in results), max(x[2] for x in results), pair))


class NeverHandshake(HostileCase):
    def test_10000_connections_that_never_finish_the_handshake(self):
        N, T = 10000, 4
        if raise_nofile(N + 1000) < N + 1000:
            self.skipTest("this process may not hold %d sockets" % N)
        r = self.start("--handshake-timeout", str(T), "--max-conns", str(N + 100))
        base_fds = r.fds()
        t0 = time.monotonic()
        peak = {}

        async def main():
            async def open_one(i):
                # Timed from before connect(): the relay's clock starts at
                # accept, later, so no connection may close sooner than T.
                t = time.monotonic()
                reader, writer = await connect(r.port, timeout=20)
                # Half send part of a head, half nothing at all.
                if i % 2:
                    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
                return reader, writer, t

            opened = await bounded_gather([open_one(i) for i in range(N)], 256)
            failed = [o for o in opened if isinstance(o, Exception)]
            conns = [o for o in opened if not isinstance(o, Exception)]
            peak.update(fds=r.fds(), rss=r.rss_kib(), opened_s=time.monotonic() - t0)
            deadline = time.monotonic() + T + 8

            async def closed(reader, t):
                eof = await wait_eof(reader, deadline - time.monotonic())
                return eof, time.monotonic() - t

            res = await asyncio.gather(*(closed(rd, t) for rd, _, t in conns))
            for _, w, _ in conns:
                close_writer(w)
            return failed, res

        failed, res = run_async(main(), 120)
        pair = self.window(t0, "10,000 unfinished handshakes")
        self.assertEqual(failed[:3], [], "connections that could not even open")
        self.assertEqual(len(res), N)
        self.assertTrue(all(eof for eof, _ in res), "%d connections never closed" % sum(1 for e, _ in res if not e))
        first = min(dt for _, dt in res)
        self.assertGreaterEqual(first, T - 0.1, "a connection was closed before the handshake timeout")
        # Back to the fds it had: nothing leaked.
        deadline = time.monotonic() + 5
        while r.fds() > base_fds and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertLessEqual(r.fds(), base_fds)
        totals = self.stop()
        self.assertEqual(totals.get("handshake_timeouts", 0), N)
        self.assertEqual(totals.get("refused_max_conns", 0), 0)
        self.assertGreaterEqual(totals.get("accepted", 0), N)
        print("\n  10k handshakes: opened in %.1f s; relay at peak %d fds, %d MiB RSS; closed after %.2f-%.2f s; "
              "pair %s" % (peak["opened_s"], peak["fds"], peak["rss"] // 1024, first, max(dt for _, dt in res), pair))


class NeverRegister(HostileCase):
    def test_5000_connections_that_never_register(self):
        N, T = 5000, 3
        raise_nofile(N + 1000)
        r = self.start("--register-timeout", str(T), "--max-conns", str(N + 100))
        t0 = time.monotonic()
        peak = {}

        async def one(gate):
            async with gate:  # bounded connects; the waiting is done by all at once
                reader, writer = await connect(r.port, timeout=20)
                await handshake(reader, writer, r.port, timeout=20)
            try:
                r2 = await read_text(reader, 20)
                start = time.monotonic()
                r4 = await read_text(reader, T + 10)
                waited = time.monotonic() - start
                code, _ = await read_close(reader, 5)
                eof = await wait_eof(reader, 5)
                return r2.get("handler"), r4, waited, code, eof
            finally:
                close_writer(writer)

        async def main():
            gate = asyncio.Semaphore(256)
            tasks = [asyncio.ensure_future(one(gate)) for _ in range(N)]
            await asyncio.sleep(T * 0.8)
            peak.update(fds=r.fds(), rss=r.rss_kib())
            return await asyncio.gather(*tasks, return_exceptions=True)

        results = run_async(main(), 90)
        pair = self.window(t0, "5,000 unregistered connections")
        errors = [x for x in results if isinstance(x, Exception)]
        self.assertEqual(errors[:3], [])
        for handler, r4, waited, code, eof in results:
            self.assertEqual(handler, "register2")
            self.assertEqual(r4, {"handler": "register4", "state2": "UNVERIFIED", "error": "TIMEOUT"})
            self.assertEqual(code, 1008)
            self.assertTrue(eof)
            self.assertGreaterEqual(waited, T - 0.3)
            self.assertLessEqual(waited, T + 3)
        totals = self.stop()
        self.assertEqual(totals.get("registration_timeouts", 0), N)
        self.assertEqual(totals.get("registrations_verified", 0), 2)  # the pair
        print("\n  5k unregistered: relay at peak %d fds, %d MiB RSS; TIMEOUT after %.2f-%.2f s; pair %s" % (
            peak["fds"], peak["rss"] // 1024, min(x[2] for x in results), max(x[2] for x in results), pair))


class OversizedHeads(HostileCase):
    def test_oversized_heads_get_431_and_close(self):
        N = 100
        r = self.start()
        t0 = time.monotonic()
        kinds = {
            # 9 KiB of headers and no end of head
            "many headers": b"GET / HTTP/1.1\r\n" + b"".join(b"X-Filler-%04d: %s\r\n" % (i, b"v" * 40)
                                                            for i in range(170)),
            # a target over the relay's 2 KiB URL buffer
            "long target": b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n",
            # a WebSocket header value over its 256-byte buffer
            "long Upgrade": b"GET / HTTP/1.1\r\nUpgrade: " + b"w" * 400 + b"\r\n",
            # 64 KiB without a line end
            "endless line": b"GET /" + b"b" * 65536,
        }

        async def one(data):
            reader, writer = await connect(r.port)
            try:
                writer.write(data)
                head = await read_head(reader, 10)
                eof = await wait_eof(reader, 5)
                return head.status_line, eof
            finally:
                close_writer(writer)

        jobs = [(k, v) for k, v in kinds.items() for _ in range(N)]
        results = run_async(bounded_gather([one(v) for _, v in jobs], 100), 60)
        pair = self.window(t0, "oversized heads")
        for (kind, _), res in zip(jobs, results):
            self.assertNotIsInstance(res, Exception, kind)
            self.assertEqual(res, ("HTTP/1.1 431 Request Header Fields Too Large", True), kind)
        totals = self.stop()
        self.assertEqual(totals.get("http_head_too_large", 0), N * len(kinds))
        print("\n  oversized heads: %d x %d -> 431; pair %s" % (len(kinds), N, pair))


class HalfClosed(HostileCase):
    def test_half_closed_sockets_are_closed_promptly(self):
        N = 300
        r = self.start()
        base_fds = r.fds()
        t0 = time.monotonic()

        async def one(kind):
            reader, writer = await connect(r.port)
            try:
                if kind == "open":
                    await handshake(reader, writer, r.port)
                    await read_text(reader)
                elif kind == "mid-head":
                    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpg")
                    await asyncio.sleep(0.05)
                start = time.monotonic()
                writer.write_eof()  # shutdown(SHUT_WR): we are done sending, still reading
                eof = await wait_eof(reader, 5)
                return eof, time.monotonic() - start
            finally:
                close_writer(writer)

        jobs = ["open", "mid-head", "at-once"]
        results = run_async(bounded_gather([one(k) for k in jobs for _ in range(N)], 300), 60)
        pair = self.window(t0, "half-closed sockets")
        for i, res in enumerate(results):
            self.assertNotIsInstance(res, Exception)
            eof, dt = res
            self.assertTrue(eof, jobs[i // N])
            self.assertLess(dt, 2.0, "%s: closed after %.2f s" % (jobs[i // N], dt))
        deadline = time.monotonic() + 5
        while r.fds() > base_fds and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertLessEqual(r.fds(), base_fds, "fds not given back")
        totals = self.stop()
        # An EOF on an open WebSocket is a peer close; the pair's own
        # clean closes at the end add at most 2.
        self.assertGreaterEqual(totals.get("close_peer", 0), N)
        self.assertLessEqual(totals.get("close_peer", 0), N + 2)
        self.assertEqual(totals.get("handshake_timeouts", 0), 0)
        print("\n  half-closed: 3 x %d closed within %.2f s; pair %s" % (N, max(d for _, d in results), pair))


class Resets(HostileCase):
    def test_resets_mid_frame_mid_head_and_with_output_queued(self):
        N = 300
        r = self.start()
        base_fds = r.fds()
        base_rss = r.rss_kib()
        t0 = time.monotonic()

        async def one(kind):
            reader, writer = await connect(r.port)
            try:
                if kind == "mid-head":
                    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nSec-WebSocket-")
                else:
                    await handshake(reader, writer, r.port)
                    await read_text(reader)
                    if kind == "mid-frame":
                        frame = build_frame(OP_TEXT, json.dumps({"handler": "ping", "t": "x" * 900}))
                        writer.write(frame[:500])
                    else:  # output queued: 200 pings whose pongs are never read
                        ping = build_frame(OP_TEXT, json.dumps({"handler": "ping", "t": "y" * 1000}))
                        writer.write(ping * 200)
                await writer.drain()
                await asyncio.sleep(0.1)
                return True
            finally:
                close_writer(writer, reset=True)

        # 200 KB of replies each for the last kind: fewer of those.
        jobs = ["mid-frame"] * N + ["mid-head"] * N + ["output-queued"] * (N // 3)
        rss = []
        for _ in range(3):
            # Rounds: what the first leaves in malloc's free lists the next reuses,
            # so memory that keeps growing round after round is a leak.
            results = run_async(bounded_gather([one(k) for k in jobs], 300), 60)
            self.assertEqual([x for x in results if x is not True][:3], [])
            deadline = time.monotonic() + 5
            while r.fds() > base_fds and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertLessEqual(r.fds(), base_fds, "fds not given back after resets")
            rss.append(r.rss_kib())
        pair = self.window(t0, "resets")
        self.assertLessEqual(rss[-1] - rss[0], max(8192, (rss[0] - base_rss) // 4),
                             "RSS keeps growing with each round of resets: %d KiB, then %s" % (base_rss, rss))
        totals = self.stop()
        self.assertEqual(totals.get("handshakes", 0), 3 * (N + N // 3) + 2)
        self.assertEqual(totals.get("handshake_timeouts", 0), 0)
        print("\n  resets: 3 rounds of %d mid-frame, %d mid-head, %d with output queued; fds back to %d "
              "each time; RSS %d KiB, after each round %s; pair %s" % (N, N, N // 3, base_fds, base_rss, rss, pair))
