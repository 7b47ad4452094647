"""Limits: --max-conns, --max-conns-per-ip, and file-descriptor exhaustion
(EMFILE). Every refusal is counted and logged at a bounded rate; the relay
neither spins nor crashes, and serves again once there is room.
"""
import asyncio
import time

from tests.lib.asyncws import bounded_gather, close_writer, connect, read_head, read_text, run_async, wait_eof
from tests.lib.relayproc import has_flag
from tests.lib.wire import OP_TEXT, build_frame, upgrade_request

from .support import LOG_LINES_PER_SHARD_SECOND, HostileCase


async def attempt(port, local=None, keep=False, timeout=10.0):
    """One handshake: ("ok", reader, writer) kept open when keep, or
    (status line, None, None) for a refusal, ("closed", ...) for a bare close."""
    reader, writer = await connect(port, local=local, timeout=timeout)
    head, _ = upgrade_request(port)
    writer.write(head)
    try:
        resp = await read_head(reader, timeout)
    except (asyncio.IncompleteReadError, ConnectionResetError):
        close_writer(writer)
        return ("closed", None, None)
    status = resp.status_line
    if status.startswith("HTTP/1.1 101") and keep:
        return ("ok", reader, writer)
    if not status.startswith("HTTP/1.1 101"):
        await wait_eof(reader, 5)
    close_writer(writer)
    return (status, None, None)


def statuses(results):
    out = {}
    for res in results:
        key = repr(res) if isinstance(res, Exception) else res[0]
        out[key] = out.get(key, 0) + 1
    return out


BUSY = "HTTP/1.1 503 Service Unavailable"


class MaxConns(HostileCase):
    def test_max_conns_refuses_with_503_counts_and_recovers(self):
        LIMIT, EXTRA, FLOOD = 100, 50, 2000
        r = self.start("--max-conns", str(LIMIT))
        t0 = time.monotonic()

        async def main():
            # The pair holds 2 of the LIMIT.
            first = await bounded_gather([attempt(r.port, keep=True) for _ in range(LIMIT - 2 + EXTRA)], 200)
            kept = [x for x in first if not isinstance(x, Exception) and x[0] == "ok"]
            flood = await bounded_gather([attempt(r.port) for _ in range(FLOOD)], 200)
            # Room again: ten leave, ten get in.
            for _, _, w in kept[:10]:
                close_writer(w)
            await asyncio.sleep(0.5)
            again = await bounded_gather([attempt(r.port, keep=True) for _ in range(10)], 10)
            for x in kept[10:] + [y for y in again if not isinstance(y, Exception) and y[0] == "ok"]:
                close_writer(x[2])
            return statuses(first), statuses(flood), statuses(again)

        first, flood, again = run_async(main(), 90)
        pair = self.window(t0, "--max-conns")
        self.assertEqual(first, {"ok": LIMIT - 2, BUSY: EXTRA})
        self.assertEqual(flood, {BUSY: FLOOD})
        self.assertEqual(again, {"ok": 10})
        logged = len(self.relay.log_lines("max-conns"))
        totals = self.stop()
        self.assertEqual(totals.get("refused_max_conns", 0), EXTRA + FLOOD)
        self.assertLess(logged, 200, "%d log lines for %d refusals" % (logged, EXTRA + FLOOD))
        print("\n  --max-conns %d: %d refused with 503 and counted, %d log lines; room again after closes; pair %s"
              % (LIMIT, EXTRA + FLOOD, logged, pair))


class MaxConnsPerIp(HostileCase):
    def test_max_conns_per_ip(self):
        if not has_flag("--max-conns-per-ip"):
            self.skipTest("the relay has no --max-conns-per-ip yet")
        N, FLOOD = 50, 1000
        r = self.start("--max-conns-per-ip", str(N))
        t0 = time.monotonic()

        async def main():
            held = await bounded_gather([attempt(r.port, local="127.0.0.1", keep=True) for _ in range(N)], 50)
            kept = [x for x in held if not isinstance(x, Exception) and x[0] == "ok"]
            one_more = await attempt(r.port, local="127.0.0.1")
            # Another loopback address has its own allowance.
            elsewhere = await bounded_gather([attempt(r.port, local="127.0.0.2", keep=True) for _ in range(N)], 50)
            over_there = await attempt(r.port, local="127.0.0.2")
            flood = await bounded_gather([attempt(r.port, local="127.0.0.1") for _ in range(FLOOD)], 200)
            close_writer(kept[0][2])
            await asyncio.sleep(0.5)
            back = await attempt(r.port, local="127.0.0.1", keep=True)
            for x in kept[1:] + [y for y in elsewhere if not isinstance(y, Exception)] + [back]:
                if x[0] == "ok":
                    close_writer(x[2])
            return statuses(held), one_more[0], statuses(elsewhere), over_there[0], statuses(flood), back[0]

        held, one_more, elsewhere, over_there, flood, back = run_async(main(), 90)
        pair = self.window(t0, "--max-conns-per-ip")
        self.assertEqual(held, {"ok": N})
        self.assertEqual(one_more, BUSY)
        self.assertEqual(elsewhere, {"ok": N})
        self.assertEqual(over_there, BUSY)
        self.assertEqual(flood, {BUSY: FLOOD})
        self.assertEqual(back, "ok")
        totals = self.stop()
        self.assertEqual(totals.get("refused_per_ip", 0), 2 + FLOOD)
        self.assertEqual(totals.get("refused_max_conns", 0), 0)
        print("\n  --max-conns-per-ip %d: the %dth from one address refused with 503, another address still in, "
              "%d refusals counted; pair %s" % (N, N + 1, 2 + FLOOD, pair))


class FdExhaustion(HostileCase):
    def test_emfile_no_spin_keeps_serving_accepts_again(self):
        NOFILE, WAITING, WINDOW = 64, 40, 4.0
        r = self.start(nofile=NOFILE)
        t0 = time.monotonic()
        report = {}

        async def main():
            # Up to the limit: every fd the relay may still open becomes a connection.
            room = NOFILE - r.fds()
            held = await bounded_gather([attempt(r.port, keep=True) for _ in range(room)], room)
            kept = [x for x in held if not isinstance(x, Exception) and x[0] == "ok"]
            report["held"] = len(kept)
            report["fds_full"] = r.fds()
            # More connect; the kernel queues them, the relay cannot take them.
            waiting = [asyncio.ensure_future(attempt(r.port, keep=True, timeout=30)) for _ in range(WAITING)]
            await asyncio.sleep(0.5)
            cpu0, w0, lines0 = r.cpu_seconds(), time.monotonic(), len(r.log_lines())
            await asyncio.sleep(WINDOW)
            report["cpu"] = r.cpu_seconds() - cpu0
            report["window"] = time.monotonic() - w0
            report["lines"] = len(r.log_lines()) - lines0
            report["none_in"] = not any(t.done() for t in waiting)
            # The connections it has still work.
            for reader, writer in [(x[1], x[2]) for x in kept[:10]]:
                writer.write(build_frame(OP_TEXT, '{"handler":"ping","t":"still"}'))
            report["pongs"] = 0
            for reader, writer in [(x[1], x[2]) for x in kept[:10]]:
                r2 = await read_text(reader, 5)  # register2 first
                pong = await read_text(reader, 5)
                got = (r2.get("handler"), pong.get("handler"), pong.get("t"))
                report["pongs"] += got == ("register2", "pong", "still")
            # Room again: the waiting ones get in.
            for x in kept[:WAITING + 5]:
                close_writer(x[2])
            start = time.monotonic()
            done = await asyncio.gather(*waiting, return_exceptions=True)
            report["waiting_in_s"] = time.monotonic() - start
            report["waiting"] = statuses(done)
            for x in kept[WAITING + 5:] + [d for d in done if not isinstance(d, Exception)]:
                if x[0] == "ok":
                    close_writer(x[2])

        run_async(main(), 90)
        pair = self.window(t0, "EMFILE")
        self.assertGreater(report["held"], 20, report)
        self.assertEqual(report["fds_full"], NOFILE, report)
        self.assertTrue(report["none_in"], report)
        # Not spinning: well under a tenth of a core while it cannot accept.
        self.assertLess(report["cpu"], 0.1 * report["window"], report)
        # Bounded log: at most the limiter's rate.
        self.assertLessEqual(report["lines"], r.threads * LOG_LINES_PER_SHARD_SECOND * (WINDOW + 1), report)
        self.assertEqual(report["pongs"], 10, report)
        self.assertEqual(report["waiting"], {"ok": WAITING}, report)
        self.assertLess(report["waiting_in_s"], 5, report)
        totals = self.stop()
        self.assertGreaterEqual(totals.get("accept_errors", 0), 1)
        print("\n  EMFILE at %d fds: %d held, CPU %.3f s in %.1f s, %d log lines, %d accept errors counted, "
              "%d waiting got in after %.2f s; pair %s" % (NOFILE, report["held"], report["cpu"], report["window"], report["lines"],
                                         totals.get("accept_errors", 0), WAITING, report["waiting_in_s"], pair))
