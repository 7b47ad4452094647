"""Soak: mixed traffic with connection churn against the real relay for a
set time, printing its RSS and open fds every sample period, failing if
either grows without bound, the relay dies, or the traffic sees errors.

    make soak                       # 10 minutes against build/reflector
    make soak SOAK_SECONDS=60 REFLECTOR=build/asan/reflector
    SOAK_SECONDS=60 /usr/bin/python3 -m tests.soak.soak   # from the repository root

Environment: REFLECTOR (binary), SOAK_SECONDS (default 600),
SOAK_SAMPLE_SECONDS (default 10), ASAN_OPTIONS (default a 16 MiB
quarantine, so an ASan build's RSS is not mostly freed memory).

Traffic (all at once, for the whole run):
  - registered pairs exchanging envelopes both ways, takeovers, and
    registered clients that come, send, look up and go (traffic.mjs);
  - raw clients that open a WebSocket, ping (JSON and WebSocket pings),
    and close cleanly, over and over;
  - idle clients that never register and are closed by the register
    timeout, then come back;
  - bad clients: oversized heads, unmasked, binary and non-UTF-8 frames,
    messages over the limit, garbage proofs, resets mid-frame,
    half-closes, unfinished heads.

Pass: the relay is alive throughout and exits 0 on SIGTERM with no
sanitizer report; no traffic errors; the last RSS sample is within 25 %
(+4 MiB) of the highest sample of the first half, and the last fd count
within 32 of the highest of the first half; once the traffic stops the fd
count returns to what the idle relay had.
"""
import asyncio
import json
import os
import sys
import time

from tests.hostile.support import NodeLines
from tests.lib.asyncws import (close_writer, connect, open_ws, raise_nofile, read_close, read_frame, read_head,
                               read_text, wait_eof)
from tests.lib.relayproc import Relay, binary
from tests.lib.wire import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, build_frame, close_payload

SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
SAMPLE = int(os.environ.get("SOAK_SAMPLE_SECONDS", "10"))
PINGERS, IDLERS, BAD = 16, 200, 4
REGISTER_TIMEOUT = 5


class Counts:
    def __init__(self):
        self.cycles = 0     # raw ping/close cycles
        self.idle = 0       # register timeouts seen
        self.bad = 0        # bad clients refused as expected
        self.errors = []    # unexpected outcomes (first few kept)
        self.nerrors = 0

    def error(self, what):
        self.nerrors += 1
        if len(self.errors) < 20:
            self.errors.append(what)


async def ping_cycle(reader, writer, c):
    for i in range(20):
        writer.write(build_frame(OP_TEXT, json.dumps({"handler": "ping", "t": i})))
        m = await read_text(reader, 10)
        if m.get("handler") != "pong" or m.get("t") != i:
            c.error("pinger: %r" % m)
    writer.write(build_frame(OP_PING, b"soak"))
    op, payload = await read_frame(reader, 10)
    if (op, payload) != (OP_PONG, b"soak"):
        c.error("pinger: pong frame %r" % ((op, payload[:40]),))
    writer.write(build_frame(OP_CLOSE, close_payload(1000)))
    code, _ = await read_close(reader, 10)
    if code != 1000 or not await wait_eof(reader, 5):
        c.error("pinger: close %r" % code)
    c.cycles += 1


async def idle_cycle(reader, writer, c):
    r4 = await read_text(reader, REGISTER_TIMEOUT + 10)
    code, _ = await read_close(reader, 10)
    if r4.get("error") != "TIMEOUT" or code != 1008:
        c.error("idler: %r %r" % (r4, code))
    c.idle += 1


async def cycles(name, cycle, port, stop, c):
    """Until `stop`: open a WebSocket, run one cycle on it, close it."""
    for _ in range(10 ** 6):
        if time.monotonic() >= stop:
            return
        try:
            reader, writer = await open_ws(port)
            try:
                await cycle(reader, writer, c)
            finally:
                close_writer(writer)
        except Exception as e:  # counted, the soak goes on
            c.error("%s: %r" % (name, e))
            await asyncio.sleep(0.5)


def bad_cases(port):
    """(name, coroutine factory) of each bad client and its expected end."""

    async def head_too_big():
        reader, writer = await connect(port)
        try:
            writer.write(b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"p" * 9000 + b"\r\n")
            head = await read_head(reader, 10)
            return head.status_line.startswith("HTTP/1.1 431")
        finally:
            close_writer(writer)

    async def frame_close(frame, want):
        reader, writer = await open_ws(port)
        try:
            writer.write(frame)
            code, _ = await read_close(reader, 10)
            return code == want
        finally:
            close_writer(writer)

    async def garbage_proof():
        reader, writer = await open_ws(port)
        try:
            writer.write(build_frame(OP_TEXT, json.dumps({
                "handler": "register3", "clearText": "{}", "cypherText": "00",
                "publicKeySig": "x", "publicKey": "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----"})))
            r4 = await read_text(reader, 10)
            code, _ = await read_close(reader, 10)
            return r4.get("state2") == "UNVERIFIED" and code == 1008
        finally:
            close_writer(writer)

    async def reset_mid_frame():
        reader, writer = await open_ws(port)
        writer.write(build_frame(OP_TEXT, b"x" * 1000)[:300])
        await writer.drain()
        close_writer(writer, reset=True)
        return True

    async def half_close():
        reader, writer = await open_ws(port)
        try:
            writer.write_eof()
            return await wait_eof(reader, 5)
        finally:
            close_writer(writer)

    async def unfinished_head():
        reader, writer = await connect(port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        await asyncio.sleep(0.3)
        close_writer(writer)
        return True

    async def not_registered():
        reader, writer = await open_ws(port)
        try:
            writer.write(build_frame(OP_TEXT, json.dumps({"handler": "invite3", "publicKeySig": "A" * 43})))
            m = await read_text(reader, 10)
            return m == {"handler": "error", "error": "NOT_REGISTERED"}
        finally:
            close_writer(writer)

    return [
        ("head over 8 KiB -> 431", head_too_big),
        ("unmasked -> 1002", lambda: frame_close(build_frame(OP_TEXT, b"{}", mask=False), 1002)),
        ("binary -> 1003", lambda: frame_close(build_frame(OP_BINARY, b"\x00\x01"), 1003)),
        ("bad UTF-8 -> 1007", lambda: frame_close(build_frame(OP_TEXT, b"\xff\xfe"), 1007)),
        ("over the limit -> 1009", lambda: frame_close(build_frame(OP_TEXT, b"a" * 5000), 1009)),
        ("garbage proof -> UNVERIFIED", garbage_proof),
        ("reset mid-frame", reset_mid_frame),
        ("half-close", half_close),
        ("unfinished head", unfinished_head),
        ("invite3 before registering -> NOT_REGISTERED", not_registered),
    ]


async def bad_client(port, stop, c, offset):
    cases = bad_cases(port)
    for i in range(10 ** 6):
        if time.monotonic() >= stop:
            return
        name, make = cases[(i + offset) % len(cases)]
        try:
            if await asyncio.wait_for(make(), 20):
                c.bad += 1
            else:
                c.error("bad client %s: unexpected outcome" % name)
        except Exception as e:
            c.error("bad client %s: %r" % (name, e))
        await asyncio.sleep(0.05)


def fmt_mib(kib):
    return "%.1f MiB" % (kib / 1024)


async def soak(relay, traffic, samples, c):
    start = time.monotonic()
    stop = start + SECONDS
    tasks = [asyncio.ensure_future(cycles("pinger", ping_cycle, relay.port, stop, c)) for _ in range(PINGERS)]
    tasks += [asyncio.ensure_future(cycles("idler", idle_cycle, relay.port, stop, c)) for _ in range(IDLERS)]
    tasks += [asyncio.ensure_future(bad_client(relay.port, stop, c, i * 3)) for i in range(BAD)]
    print("%7s %11s %6s %9s %9s %8s %7s %6s %6s %7s" % ("time", "rss", "fds", "envelopes", "lost+err", "regs",
                                                       "cycles", "idle", "bad", "errors"), flush=True)
    for k in range(1, SECONDS // SAMPLE + 1):
        await asyncio.sleep(max(0.0, start + k * SAMPLE - time.monotonic()))
        if not relay.alive():
            raise AssertionError("the relay died after %d s:\n%s" % (k * SAMPLE, relay.output()[-3000:]))
        st = [ev for _, ev in traffic.snapshot() if ev.get("event") == "stats"]
        st = st[-1] if st else {}
        samples.append((k * SAMPLE, relay.rss_kib(), relay.fds()))
        print("%6ds %11s %6d %9d %9d %8d %7d %6d %6d %7d" % (
            k * SAMPLE, fmt_mib(samples[-1][1]), samples[-1][2], st.get("received", 0),
            st.get("lost", 0) + st.get("errors", 0), st.get("registrations", 0), c.cycles, c.idle, c.bad,
            c.nerrors), flush=True)
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)


def main():
    raise_nofile(8192)
    # Under ASan, freed memory waits in a quarantine (256 MiB by default)
    # before reuse, which reads as growth; a small one keeps RSS meaningful.
    os.environ.setdefault("ASAN_OPTIONS", "quarantine_size_mb=16:detect_leaks=1")
    print("soak: %s for %d s, a sample every %d s" % (binary(), SECONDS, SAMPLE), flush=True)
    relay = Relay("--register-timeout", str(REGISTER_TIMEOUT), "--max-conns", "20000", log_level="info",
                  drain_timeout=2)
    failures = []
    samples = []
    c = Counts()
    traffic = None
    try:
        idle_fds, idle_rss = relay.fds(), relay.rss_kib()
        samples.append((0, idle_rss, idle_fds))
        print("idle relay: %s, %d fds" % (fmt_mib(idle_rss), idle_fds), flush=True)
        traffic = NodeLines("../soak/traffic.mjs", relay.url, "--seconds", SECONDS, "--pairs", 8,
                            "--report-seconds", SAMPLE)
        asyncio.run(soak(relay, traffic, samples, c))
        done = traffic.wait_for(lambda ev: ev.get("event") == "done", 60, "traffic done")
        traffic.close(timeout=15)
        # Quiet again: every connection gone, the fds come back.
        deadline = time.monotonic() + 15
        while relay.fds() > idle_fds and time.monotonic() < deadline:
            time.sleep(0.2)
        after_fds, after_rss = relay.fds(), relay.rss_kib()
        print("after the traffic: %s, %d fds" % (fmt_mib(after_rss), after_fds), flush=True)
        print("traffic: %s" % json.dumps({k: v for k, v in done.items() if k != "event"}), flush=True)
        print("raw clients: %d ping/close cycles, %d register timeouts, %d bad clients refused, %d errors %s"
              % (c.cycles, c.idle, c.bad, c.nerrors, c.errors[:5]), flush=True)
        if done.get("errors") or done.get("lost"):
            failures.append("registered traffic: %d errors, %d lost: %s"
                            % (done.get("errors", 0), done.get("lost", 0), done.get("errorSamples", [])[:5]))
        if done.get("received", 0) == 0:
            failures.append("no envelopes were delivered")
        if c.nerrors:
            failures.append("raw clients: %d errors: %s" % (c.nerrors, c.errors[:5]))
        if after_fds > idle_fds:
            failures.append("fds after the traffic %d > idle %d" % (after_fds, idle_fds))
        first_half = [s for s in samples[1:] if s[0] <= SECONDS / 2] or samples[1:2]
        steady_rss = max(s[1] for s in first_half)
        steady_fds = max(s[2] for s in first_half)
        last = samples[-1]
        print("RSS: idle %s, steady %s, last %s; fds: idle %d, steady %d, last %d" % (
            fmt_mib(idle_rss), fmt_mib(steady_rss), fmt_mib(last[1]), idle_fds, steady_fds, last[2]), flush=True)
        if last[1] > steady_rss * 1.25 + 4096:
            failures.append("RSS grew: %s in the first half, %s at the end" % (fmt_mib(steady_rss), fmt_mib(last[1])))
        if last[2] > steady_fds + 32:
            failures.append("fds grew: %d in the first half, %d at the end" % (steady_fds, last[2]))
    except Exception as e:
        failures.append("soak failed: %r" % e)
    finally:
        if traffic:
            traffic.dispose()
        try:
            relay.stop(timeout=60)
            print("relay totals: %s" % " ".join("%s=%d" % kv for kv in relay.totals.items()), flush=True)
        except AssertionError as e:
            failures.append(str(e))
        if relay.exit_code != 0:
            failures.append("relay exit code %s" % relay.exit_code)
        report = relay.sanitizer_report()
        if report is not None:
            failures.append("sanitizer report:\n" + report[:3200])
        relay.cleanup()
    if failures:
        print("soak: FAILED\n  " + "\n  ".join(failures), flush=True)
        return 1
    print("soak: OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
