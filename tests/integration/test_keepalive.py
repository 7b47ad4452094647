"""Server keep-alive with --ping-interval 1: pings about every second, a
silent client closed after about two intervals, a live one kept."""
import time

from tests.lib.relayproc import RelayTestCase
from tests.lib.syncws import ws_open
from tests.lib.wire import OP_CLOSE, OP_PING, OP_PONG, Closed, Timeout


class KeepAlive(RelayTestCase):
    RELAY_ARGS = ("--ping-interval", "1")

    def test_pings_about_every_second(self):
        ws, _ = ws_open(self.port)
        with ws:
            pings = []
            deadline = time.monotonic() + 3.6
            for _ in range(100):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    f = ws.recv_frame(left, skip_pings=False)
                except Timeout:
                    break
                if f.opcode == OP_PING:
                    pings.append(time.monotonic())
                    ws.send_frame(OP_PONG, f.payload)
                elif f.opcode == OP_CLOSE:
                    self.fail("closed although every ping was answered")
            self.assertGreaterEqual(len(pings), 2, "fewer than 2 pings in 3.6 s at --ping-interval 1")
            self.assertLessEqual(len(pings), 8, "pinging far more often than once a second")
            gaps = [b - a for a, b in zip(pings, pings[1:])]
            for g in gaps:
                self.assertGreater(g, 0.4, gaps)
                self.assertLess(g, 2.0, gaps)

    def test_silent_client_closed_after_two_intervals(self):
        ws, _ = ws_open(self.port)
        with ws:
            t0 = time.monotonic()
            end = None
            deadline = t0 + 6.0
            for _ in range(100):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    f = ws.recv_frame(left, skip_pings=False)
                except Timeout:
                    break
                except Closed:
                    end = time.monotonic()
                    break
                if f.opcode == OP_CLOSE:
                    end = time.monotonic()
                    break
                # pings are read but never answered; the client sends nothing
            self.assertIsNotNone(end, "a client that never sent anything was not closed in 6 s")
            elapsed = end - t0
            self.assertGreater(elapsed, 1.5, f"closed too early ({elapsed:.2f} s)")
            self.assertLess(elapsed, 4.0, f"closed too late ({elapsed:.2f} s)")

    def test_client_answering_pings_stays(self):
        ws, _ = ws_open(self.port)
        with ws:
            deadline = time.monotonic() + 4.0
            pings = 0
            for _ in range(100):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    f = ws.recv_frame(left, skip_pings=False)
                except Timeout:
                    break
                except Closed:
                    self.fail("connection closed although pings were answered")
                self.assertNotEqual(f.opcode, OP_CLOSE, "closed although pings were answered")
                if f.opcode == OP_PING:
                    pings += 1
                    ws.send_frame(OP_PONG, f.payload)
            self.assertGreaterEqual(pings, 2)
            pong = ws.request({"handler": "ping", "t": "still here"})
            self.assertEqual(pong["t"], "still here")

    def test_client_sending_messages_but_no_pongs_stays(self):
        # "sent nothing, pong included": any traffic counts as a sign of life.
        ws, _ = ws_open(self.port)
        with ws:
            for i in range(9):
                pong = ws.request({"handler": "ping", "t": i}, timeout=2, auto_pong=False)
                self.assertEqual(pong["t"], i)
                time.sleep(0.5)

    def test_pings_to_idle_client_do_not_stop_app_traffic(self):
        ws, _ = ws_open(self.port)
        with ws:
            time.sleep(1.3)  # a server ping is now queued ahead of the next reply
            pong = ws.request({"handler": "ping", "t": "after"})  # auto-pongs
            self.assertEqual(pong["t"], "after")
