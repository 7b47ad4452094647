"""Graceful shutdown: SIGTERM/SIGINT send close 1001 to every client and the
relay exits 0 within --drain-timeout (+2 s)."""
import signal
import socket
import time
import unittest

from tests.lib.relayproc import Relay
from tests.lib.syncws import ws_open
from tests.lib.wire import OP_CLOSE, Closed, close_code

DRAIN = 3


class Shutdown(unittest.TestCase):
    def wait_exit(self, relay, limit):
        t0 = time.monotonic()
        try:
            code = relay.proc.wait(timeout=limit)
        except Exception:
            self.fail(f"relay still running {limit} s after the signal")
        return code, time.monotonic() - t0

    def drain_with_clients(self, sig, answer=True):
        with Relay("--drain-timeout", str(DRAIN), threads=4) as relay:
            conns = []
            try:
                for _ in range(50):
                    conns.append(ws_open(relay.port)[0])
                for i, ws in enumerate(conns):
                    self.assertEqual(ws.request({"handler": "ping", "t": i})["t"], i)
                relay.proc.send_signal(sig)
                t0 = time.monotonic()
                codes = []
                for ws in conns:
                    codes.append(ws.recv_close(DRAIN + 2, reply=answer))
                self.assertEqual(codes, [1001] * 50, "close codes after the signal")
                code, _ = self.wait_exit(relay, max(0.1, DRAIN + 2.5 - (time.monotonic() - t0)))
                elapsed = time.monotonic() - t0
                self.assertEqual(code, 0, relay.output())
                self.assertLessEqual(elapsed, DRAIN + 2.5)
                if answer:
                    for ws in conns:
                        self.assertTrue(ws.wait_eof(1), "TCP not ended after the close exchange")
                return elapsed
            finally:
                for ws in conns:
                    ws.abort()

    def test_sigterm_1001_and_exit_0(self):
        self.drain_with_clients(signal.SIGTERM)

    def test_sigint_1001_and_exit_0(self):
        self.drain_with_clients(signal.SIGINT)

    def test_clients_not_answering_close(self):
        self.drain_with_clients(signal.SIGTERM, answer=False)

    def test_one_silent_client_does_not_block_exit(self):
        with Relay("--drain-timeout", "2") as relay:
            ws, _ = ws_open(relay.port)
            with ws:
                relay.proc.send_signal(signal.SIGTERM)
                t0 = time.monotonic()
                # Read the close frame but never answer it, never close TCP.
                f = ws.recv_frame(4, skip_pings=False)
                for _ in range(10):
                    if f.opcode == OP_CLOSE:
                        break
                    f = ws.recv_frame(4, skip_pings=False)
                self.assertEqual(f.opcode, OP_CLOSE)
                self.assertEqual(close_code(f.payload), 1001)
                code, _ = self.wait_exit(relay, 4.5)
                self.assertEqual(code, 0)
                self.assertLessEqual(time.monotonic() - t0, 4.0)

    def test_idle_relay_exits_fast(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig):
                with Relay() as relay:
                    relay.proc.send_signal(sig)
                    code, elapsed = self.wait_exit(relay, 3)
                    self.assertEqual(code, 0)
                    self.assertLess(elapsed, 2)

    def test_half_open_handshake_does_not_block_exit(self):
        with Relay("--drain-timeout", "2") as relay:
            s = socket.create_connection(("127.0.0.1", relay.port), timeout=5)
            with s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                time.sleep(0.2)
                relay.proc.send_signal(signal.SIGTERM)
                code, elapsed = self.wait_exit(relay, 4.5)
                self.assertEqual(code, 0)

    def test_no_new_connections_while_draining(self):
        with Relay("--drain-timeout", "3") as relay:
            ws, _ = ws_open(relay.port)
            with ws:
                relay.proc.send_signal(signal.SIGTERM)
                f = ws.recv_frame(4, skip_pings=False)
                self.assertEqual(f.opcode, OP_CLOSE)
                # Still draining (this client has not answered): a new
                # upgrade must not become a working connection.
                try:
                    ws2, reg = ws_open(relay.port, timeout=2)
                except (Closed, OSError, AssertionError):
                    pass
                else:
                    ws2.abort()
                    self.fail("a new WebSocket was accepted during the drain")
                ws.send_frame(OP_CLOSE, f.payload[:2])
                code, _ = self.wait_exit(relay, 5)
                self.assertEqual(code, 0)
