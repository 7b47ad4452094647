"""Hostile frames on open WebSockets: ping floods, fragmented messages that
never end, a message just over the limit in many fragments.
"""
import asyncio
import json
import os
import time

from tests.lib.asyncws import (bounded_gather, close_writer, open_ws, read_close, read_frame, read_text, run_async,
                               wait_eof)
from tests.lib.wire import OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, build_frame, fragment_frames

from .support import HostileCase


class PingFloods(HostileCase):
    def test_ping_flood_from_a_reader_is_answered_in_order(self):
        N = 20000
        r = self.start()
        t0 = time.monotonic()

        async def main():
            reader, writer = await open_ws(r.port)
            try:
                payloads = [b"%06d" % i for i in range(N)]
                ws_pings = b"".join(build_frame(OP_PING, p) for p in payloads)
                json_pings = b"".join(build_frame(OP_TEXT, json.dumps({"handler": "ping", "t": i}))
                                      for i in range(N))

                async def send():
                    for chunk in (ws_pings, json_pings):
                        writer.write(chunk)
                        await writer.drain()

                sender = asyncio.ensure_future(send())
                pongs, texts = [], []
                deadline = time.monotonic() + 60
                while len(pongs) + len(texts) < 2 * N:
                    op, payload = await read_frame(reader, deadline - time.monotonic())
                    if op == OP_PONG:
                        pongs.append(payload)
                    elif op == OP_TEXT:
                        texts.append(json.loads(payload))
                    elif op != OP_PING:
                        raise AssertionError("unexpected frame %d %r" % (op, payload[:80]))
                await sender
                return payloads, pongs, texts
            finally:
                close_writer(writer)

        payloads, pongs, texts = run_async(main(), 90)
        pair = self.window(t0, "ping flood (reader)")
        self.assertEqual(pongs, payloads, "WebSocket pongs: one per ping, same payload, in order")
        self.assertEqual([m.get("handler") for m in texts], ["pong"] * N)
        self.assertEqual([m.get("t") for m in texts], list(range(N)))
        totals = self.stop()
        self.assertGreaterEqual(totals.get("messages_in", 0), N)
        print("\n  ping flood: %d WebSocket pings + %d JSON pings answered in order; pair %s" % (N, N, pair))

    def test_ping_flood_from_a_client_that_never_reads_is_bounded(self):
        # Replies the relay makes itself (pong frames, JSON pongs, errors)
        # count against --max-queued too: over it, the relay stops reading
        # the client, and drops it as a slow consumer after the timeout.
        MAXQ, SLOW = 262144, 2
        r = self.start("--max-queued", str(MAXQ), "--slow-consumer-timeout", str(SLOW))
        base = r.rss_kib()
        t0 = time.monotonic()
        FLOOD = 64 << 20

        async def flood(kind):
            reader, writer = await open_ws(r.port)
            if kind == "ws":
                frame = build_frame(OP_PING, b"p" * 125)
            else:
                frame = build_frame(OP_TEXT, json.dumps({"handler": "ping", "t": "q" * 1000}))
            batch = frame * (65536 // len(frame) + 1)
            sent, outcome = 0, "flooded"
            start = time.monotonic()
            try:
                while sent < FLOOD and time.monotonic() - start < 20:
                    writer.write(batch)
                    try:
                        await asyncio.wait_for(writer.drain(), 1.0)
                    except asyncio.TimeoutError:
                        outcome = "throttled"  # the relay stopped reading: fine
                        break
                    except ConnectionError:
                        outcome = "closed"
                        break
                    sent += len(batch)
                peak = r.rss_kib()
                if outcome != "closed":
                    # Dropped as a slow consumer, or still throttled.
                    await asyncio.sleep(SLOW + 1.5)
                return kind, outcome, sent, peak
            finally:
                close_writer(writer)

        results = run_async(bounded_gather([flood("ws"), flood("json")], 2), 90)
        pair = self.window(t0, "ping flood (never reads)")
        self.stop()
        for res in results:
            self.assertNotIsInstance(res, Exception)
            kind, outcome, sent, peak = res
            self.assertLessEqual(peak - base, 32 * 1024,
                                 "%s ping flood: relay RSS %d -> %d KiB after %d MiB of pings never read (%s)"
                                 % (kind, base, peak, sent >> 20, outcome))
        print("\n  ping flood, never read: %s; pair %s" % (results, pair))


class EndlessFragments(HostileCase):
    def test_messages_that_never_end(self):
        N, PART = 1000, 4000
        r = self.start("--ping-interval", "1")
        base = r.rss_kib()
        t0 = time.monotonic()
        peak = {}

        async def one(gate):
            async with gate:
                reader, writer = await open_ws(r.port)
            try:
                # A message of 4000 bytes so far (the limit is 4096), never finished.
                writer.write(build_frame(OP_TEXT, b"{" + b" " * (PART - 1), fin=False))
                await writer.drain()
                start = time.monotonic()
                # Server pings go unanswered: closed as idle after two intervals.
                code, texts = await read_close(reader, 10)
                waited = time.monotonic() - start
                eof = await wait_eof(reader, 5)
                return code, texts, waited, eof
            finally:
                close_writer(writer)

        async def endless_stream():
            # Empty continuation frames, legal and endless, for 3 s; then the
            # end of the message: it is still delivered.
            reader, writer = await open_ws(r.port)
            try:
                head = b'{"handler":"ping","t":"'
                writer.write(build_frame(OP_TEXT, head, fin=False))
                empty = build_frame(OP_CONT, b"", fin=False) * 2000
                frames = 0
                start = time.monotonic()
                while time.monotonic() - start < 3 and frames < 2_000_000:
                    writer.write(empty)
                    await writer.drain()
                    frames += 2000
                writer.write(build_frame(OP_CONT, b'end"}', fin=True))
                pong = await read_text(reader, 10)
                return frames, pong
            finally:
                close_writer(writer)

        async def main():
            gate = asyncio.Semaphore(200)
            tasks = [asyncio.ensure_future(one(gate)) for _ in range(N)]
            stream = asyncio.ensure_future(endless_stream())
            await asyncio.sleep(1.2)
            peak.update(rss=r.rss_kib(), fds=r.fds())
            return await asyncio.gather(*tasks, return_exceptions=True), await stream

        results, (frames, pong) = run_async(main(), 60)
        pair = self.window(t0, "endless fragments")
        for res in results:
            self.assertNotIsInstance(res, Exception)
            code, texts, waited, eof = res
            self.assertEqual(code, 1001)
            self.assertEqual(texts, [])
            self.assertTrue(eof)
            self.assertLessEqual(waited, 4.0)
        self.assertEqual(pong["handler"], "pong")
        self.assertEqual(pong["t"], "end")
        # A partial message holds a receive state: wslay's 4 KiB buffer and
        # the message so far. Bounded per connection.
        per_conn = (peak["rss"] - base) / N
        self.assertLess(per_conn, 32, "%.1f KiB of RSS per connection holding a partial message" % per_conn)
        totals = self.stop()
        self.assertGreaterEqual(totals.get("close_idle", 0), N)
        print("\n  endless fragments: %d partial messages held at %.1f KiB each, closed 1001 idle; "
              "%d empty continuations then delivered; pair %s" % (N, per_conn, frames, pair))


class JustOverTheLimit(HostileCase):
    def test_one_byte_fragments_at_and_over_the_limit(self):
        N, LIMIT = 20, 4096
        r = self.start()
        t0 = time.monotonic()

        def message(size):
            head, tail = b'{"handler":"ping","t":"', b'"}'
            return head + b"a" * (size - len(head) - len(tail)) + tail

        async def one(size, fragment):
            reader, writer = await open_ws(r.port)
            try:
                msg = message(size)
                pieces = [msg[i:i + fragment] for i in range(0, len(msg), fragment)]
                frames = fragment_frames(pieces)
                # A ping between two fragments is legal.
                frames.insert(len(frames) // 2, build_frame(OP_PING, b"mid"))
                data = b"".join(frames)
                writer.write(data)
                await writer.drain()
                frames = []
                for _ in range(10):
                    op, payload = await read_frame(reader, 10)
                    frames.append((op, payload))
                    if op in (OP_CLOSE, OP_TEXT):
                        break
                return frames
            finally:
                close_writer(writer)

        jobs = [(LIMIT, 1), (LIMIT + 1, 1), (LIMIT + 1, 64), (LIMIT, 7)]
        results = run_async(bounded_gather([one(s, f) for s, f in jobs for _ in range(N)], 40), 60)
        pair = self.window(t0, "limit in many fragments")
        for i, frames in enumerate(results):
            size, fragment = jobs[i // N]
            self.assertNotIsInstance(frames, Exception)
            op, payload = frames[-1]
            if size <= LIMIT:
                self.assertEqual(op, OP_TEXT, frames)
                self.assertEqual(json.loads(payload)["handler"], "pong")
            else:
                self.assertEqual(op, OP_CLOSE, frames)
                self.assertEqual(int.from_bytes(payload[:2], "big"), 1009, frames)
        totals = self.stop()
        self.assertEqual(totals.get("close_too_big", 0), 2 * N)
        print("\n  limit: 4096 bytes in 1- and 7-byte fragments delivered; 4097 in 1- and 64-byte fragments "
              "closed 1009 (x%d each); pair %s" % (N, pair))
