"""--max-conns and --max-message."""
import json
import time
import unittest

from tests.lib.relayproc import Relay
from tests.lib.syncws import ws_handshake, ws_open
from tests.lib.wire import OP_CONT, OP_TEXT, Closed, Timeout


def ping_of_size(n, t_char="x"):
    """A ping message of exactly n bytes."""
    base = len('{"handler":"ping","t":""}')
    msg = '{"handler":"ping","t":"' + t_char * (n - base) + '"}'
    assert len(msg.encode()) == n
    return msg


def try_open(port):
    """(True, ws) for an accepted WebSocket that got register2, else
    (False, reason)."""
    try:
        ws = ws_handshake(port, timeout=3)
    except (Closed, Timeout, OSError) as e:
        return False, f"closed: {e!r}"
    if ws.status != 101:
        ws.abort()
        return False, ws.status
    try:
        reg = ws.recv_json(3)
    except (Closed, OSError, AssertionError) as e:
        ws.abort()
        return False, f"closed after 101: {e!r}"
    if reg.get("handler") != "register2":
        ws.abort()
        return False, reg
    return True, ws


class MaxConns(unittest.TestCase):
    def test_connection_over_limit_refused_then_accepted_after_one_closes(self):
        with Relay("--max-conns", "3", threads=2) as relay:
            conns = []
            try:
                for _ in range(3):
                    ok, ws = try_open(relay.port)
                    self.assertTrue(ok, f"connection within the limit refused: {ws}")
                    conns.append(ws)
                ok, why = try_open(relay.port)
                if ok:
                    why.abort()
                    self.fail("4th connection accepted with --max-conns 3")
                if isinstance(why, int):
                    self.assertEqual(why, 503, "an HTTP refusal must be 503")
                # The open ones are unaffected.
                for ws in conns:
                    self.assertEqual(ws.request({"handler": "ping", "t": 1})["handler"], "pong")
                # Close one cleanly; a new one must be accepted soon after.
                self.assertEqual(conns.pop().close(1000), 1000)
                accepted = None
                deadline = time.monotonic() + 5
                for _ in range(50):
                    ok, ws = try_open(relay.port)
                    if ok:
                        accepted = ws
                        break
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                self.assertIsNotNone(accepted, "no connection accepted after one of 3 closed")
                conns.append(accepted)
                # Dropping TCP without a close frame frees a slot as well.
                conns.pop(0).abort()
                accepted = None
                deadline = time.monotonic() + 5
                for _ in range(50):
                    ok, ws = try_open(relay.port)
                    if ok:
                        accepted = ws
                        break
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                self.assertIsNotNone(accepted, "no slot freed after a client dropped TCP")
                conns.append(accepted)
            finally:
                for ws in conns:
                    ws.abort()


class MaxMessage(unittest.TestCase):
    def test_default_4096_exact_ok_one_more_1009(self):
        with Relay() as relay:
            ws, _ = ws_open(relay.port)
            with ws:
                pong = ws.request(ping_of_size(4096))
                self.assertEqual(pong["handler"], "pong")
                self.assertEqual(len(pong["t"]), 4096 - 25)
                ws.send_text(ping_of_size(4097))
                self.assertEqual(ws.recv_close(5), 1009)

    def test_configured_limit(self):
        with Relay("--max-message", "100") as relay:
            ws, _ = ws_open(relay.port)
            with ws:
                self.assertEqual(ws.request(ping_of_size(100))["handler"], "pong")
                ws.send_text(ping_of_size(101))
                self.assertEqual(ws.recv_close(5), 1009)

    def test_large_configured_limit(self):
        with Relay("--max-message", "200000") as relay:
            ws, _ = ws_open(relay.port)
            with ws:
                pong = ws.request(ping_of_size(150000), timeout=10)
                self.assertEqual(len(pong["t"]), 150000 - 25)

    def test_fragmented_total_over_limit_1009(self):
        with Relay("--max-message", "100") as relay:
            ws, _ = ws_open(relay.port)
            with ws:
                msg = ping_of_size(180).encode()
                ws.send_frame(OP_TEXT, msg[:60], fin=False)
                ws.send_frame(OP_CONT, msg[60:120], fin=False)
                try:
                    ws.send_frame(OP_CONT, msg[120:], fin=True)
                except OSError:
                    pass
                self.assertEqual(ws.recv_close(5), 1009)

    def test_huge_declared_length_1009(self):
        # A frame header declaring 1 GiB: closed without waiting for the bytes.
        with Relay() as relay:
            ws, _ = ws_open(relay.port)
            with ws:
                import struct
                ws.send_raw(struct.pack("!BBQ", 0x81, 0x80 | 127, 1 << 30) + b"\x00\x00\x00\x00" + b"{")
                self.assertEqual(ws.recv_close(5), 1009)

    def test_multibyte_limit_counts_bytes(self):
        with Relay("--max-message", "100") as relay:
            ws, _ = ws_open(relay.port)
            with ws:
                # 26 snowmen = 78 bytes + 25 = 103 bytes, only 51 characters.
                msg = '{"handler":"ping","t":"' + "\u2603" * 26 + '"}'
                self.assertEqual(len(msg.encode()), 103)
                ws.send_text(msg)
                self.assertEqual(ws.recv_close(5), 1009)


class ManySequential(unittest.TestCase):
    def test_no_slot_leak_over_300_connections(self):
        with Relay("--max-conns", "5") as relay:
            for i in range(300):
                ok, ws = try_open(relay.port)
                if not ok:
                    # A slot may be released a moment after the close.
                    time.sleep(0.2)
                    ok, ws = try_open(relay.port)
                self.assertTrue(ok, f"connection {i} refused: {ws}")
                if i % 2:
                    ws.close(1000)
                ws.abort()
