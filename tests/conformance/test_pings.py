"""Section 2 (pings and pongs): WebSocket pings are answered with a pong
carrying the same payload, unsolicited pongs are ignored, oversized control
frames fail the connection."""
import os

from .common import OP_PING, OP_PONG, OP_TEXT, RelayCase, build_frame, ping_of_size


class Pings(RelayCase):

    def _ping(self, payload, **send):
        c = self.connect()
        c.send_ping(payload, **send)
        self.assertWsPong(c, payload)
        self.assertOpen(c)

    def test_2_1_ping_empty(self):
        """Autobahn 2.1: ping without payload -> pong without payload."""
        self._ping(b"")

    def test_2_2_ping_text_payload(self):
        """Autobahn 2.2: ping with a small text payload -> pong, same payload."""
        self._ping(b"Hello, world!")

    def test_2_3_ping_binary_payload(self):
        """Autobahn 2.3: ping with a small binary payload (non-UTF-8 bytes
        included; control payloads are not checked for UTF-8) -> same payload."""
        self._ping(b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff\xc0\xaf\xed\xa0\x80")

    def test_2_4_ping_125(self):
        """Autobahn 2.4: ping with 125 bytes of binary payload -> pong, same."""
        self._ping(os.urandom(125))

    def test_2_4b_ping_all_byte_values(self):
        """Autobahn 2.3/2.4 variant: every byte value 0..255 in ping payloads
        (two pings of 125 bytes and one of 6) -> pongs in order, same payloads."""
        c = self.connect()
        data = bytes(range(256))
        parts = [data[0:125], data[125:250], data[250:]]
        for p in parts:
            c.send_ping(p)
        for p in parts:
            self.assertWsPong(c, p)

    def test_2_5_ping_126(self):
        """Autobahn 2.5: ping with 126 bytes (control frame > 125) -> close 1002."""
        c = self.connect()
        c.send_ping(b"x" * 126)
        self.assertClose(c, 1002)

    def test_2_5b_ping_65536(self):
        """Autobahn 2.5 variant: ping announcing a 64-bit length of 65536
        -> close 1002, no pong."""
        c = self.connect()
        c.send_ping(b"x" * 65536)
        self.assertClose(c, 1002)

    def test_2_5c_pong_126(self):
        """Autobahn 2.5 variant: unsolicited pong with 126 bytes -> close 1002."""
        c = self.connect()
        c.send_pong(b"x" * 126)
        self.assertClose(c, 1002)

    def test_2_6_ping_125_chopped(self):
        """Autobahn 2.6: ping with 125 bytes, sent one byte per write -> pong."""
        self._ping(os.urandom(125), chunk=1, delay=0.001)

    def test_2_7_unsolicited_pong_empty(self):
        """Autobahn 2.7: unsolicited pong without payload -> nothing back."""
        c = self.connect()
        c.send_pong(b"")
        c.expect_no_frame(0.3)
        self.assertOpen(c)

    def test_2_8_unsolicited_pong_payload(self):
        """Autobahn 2.8: unsolicited pong with payload -> nothing back."""
        c = self.connect()
        c.send_pong(b"unsolicited pong payload")
        c.expect_no_frame(0.3)
        self.assertOpen(c)

    def test_2_9_unsolicited_pong_then_ping(self):
        """Autobahn 2.9: unsolicited pong, then ping -> only the pong for the ping."""
        c = self.connect()
        c.send_raw(build_frame(OP_PONG, b"unsolicited") + build_frame(OP_PING, b"ping payload"))
        self.assertWsPong(c, b"ping payload")
        c.expect_no_frame(0.3)

    def test_2_10_ten_pings(self):
        """Autobahn 2.10: 10 pings back to back -> 10 pongs in order."""
        c = self.connect()
        payloads = [b"payload-%d" % i for i in range(10)]
        c.send_raw(b"".join(build_frame(OP_PING, p) for p in payloads))
        for p in payloads:
            self.assertWsPong(c, p)
        c.expect_no_frame(0.2)

    def test_2_10b_thousand_pings(self):
        """Autobahn 2.10 scaled up: 1000 pings of 101 bytes back to back ->
        1000 pongs in order (RFC 6455 5.5.3 would allow answering only the
        latest; this relay's contract is one pong per ping, in order)."""
        c = self.connect()
        payloads = [(b"%d:" % i).ljust(101, b"p") for i in range(1000)]
        c.send_raw(b"".join(build_frame(OP_PING, p) for p in payloads))
        for p in payloads:
            self.assertWsPong(c, p)
        self.assertOpen(c)

    def test_2_11_ten_pings_chopped(self):
        """Autobahn 2.11: 10 pings back to back, written in 1-byte chops ->
        10 pongs in order."""
        c = self.connect()
        payloads = [b"payload-%d" % i for i in range(10)]
        c.send_raw(b"".join(build_frame(OP_PING, p) for p in payloads), chunk=1, delay=0.0005)
        for p in payloads:
            self.assertWsPong(c, p)

    def test_2_12_pings_among_messages(self):
        """Autobahn 2.x variant: pings interleaved with text messages in one
        write -> WebSocket pongs in order and text replies in order (RFC 6455
        does not order control replies against data replies)."""
        c = self.connect()
        m1, t1 = ping_of_size(30)
        m2, t2 = ping_of_size(300)
        c.send_raw(build_frame(OP_PING, b"a") + build_frame(OP_TEXT, m1) +
                   build_frame(OP_PING, b"b") + build_frame(OP_TEXT, m2) + build_frame(OP_PING, b"c"))
        frames = [c.recv_frame() for _ in range(5)]
        self.assertEqual([f.payload for f in frames if f.opcode == OP_PONG], [b"a", b"b", b"c"])
        texts = [f for f in frames if f.opcode != OP_PONG]
        self.assertEqual(len(texts), 2, frames)
        self.checkPong(texts[0], t1)
        self.checkPong(texts[1], t2)
