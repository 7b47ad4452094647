"""Section 9 (limits and performance) adapted to the relay's message limit:
Autobahn sends up to 16 MiB; the relay takes messages up to --max-message
(default 4096) and answers a larger one with close 1009 as soon as the total
passes the limit, without waiting for the rest or for FIN."""
import time

from tests.lib.wire import chunks, message_frames

from .common import BIG, BIG_ARGS, OP_CONT, OP_PING, OP_TEXT, RelayCase, build_frame, ping_of_size


def fragments(msg, size, final=True):
    return message_frames(chunks(msg, size), final=final)


class LargeLimit(RelayCase):
    """--max-message 1048576."""
    RELAY_ARGS = BIG_ARGS

    def _big(self, n, frag=None, chop=None):
        c = self.connect()
        msg, t = ping_of_size(n)
        data = fragments(msg, frag) if frag else build_frame(OP_TEXT, msg)
        sender = c.start_sender(data, chunk=chop)
        self.assertPong(c, t, timeout=8)
        sender.join(5)
        self.assertIsNone(sender.error)
        self.assertFalse(sender.is_alive())
        return c

    def test_9_1_1_64k(self):
        """Autobahn 9.1.1: 64 KiB text message in one frame -> pong."""
        self._big(64 * 1024)

    def test_9_1_2_256k(self):
        """Autobahn 9.1.2: 256 KiB text message in one frame -> pong."""
        self._big(256 * 1024)

    def test_9_1_3_1m(self):
        """Autobahn 9.1.3: 1 MiB text message (exactly --max-message) in one
        frame -> pong with the same t."""
        self._big(BIG)

    def test_9_3_1_1m_frag_64(self):
        """Autobahn 9.3.1: 1 MiB text message in 64-byte fragments -> pong."""
        self._big(BIG, frag=64)

    def test_9_3_2_1m_frag_256(self):
        """Autobahn 9.3.2: 1 MiB text message in 256-byte fragments -> pong."""
        self._big(BIG, frag=256)

    def test_9_3_3_1m_frag_1k(self):
        """Autobahn 9.3.3: 1 MiB text message in 1 KiB fragments -> pong."""
        self._big(BIG, frag=1024)

    def test_9_3_4_1m_frag_4k(self):
        """Autobahn 9.3.4: 1 MiB text message in 4 KiB fragments -> pong."""
        self._big(BIG, frag=4096)

    def test_9_3_6_1m_frag_64k(self):
        """Autobahn 9.3.6: 1 MiB text message in 64 KiB fragments -> pong."""
        self._big(BIG, frag=65536)

    def test_9_3_7_1m_frag_256k(self):
        """Autobahn 9.3.7: 1 MiB text message in 256 KiB fragments -> pong."""
        self._big(BIG, frag=262144)

    def test_9_5_1_1m_chopped_64(self):
        """Autobahn 9.5.1: 1 MiB text frame written in 64-byte chops -> pong."""
        self._big(BIG, chop=64)

    def test_9_5_5_1m_chopped_1k(self):
        """Autobahn 9.5.5: 1 MiB text frame written in 1 KiB chops -> pong."""
        self._big(BIG, chop=1024)

    def test_9_5_x_1m_chopped_64k(self):
        """Autobahn 9.5.x: 1 MiB text frame written in 64 KiB chops -> pong."""
        self._big(BIG, chop=65536)

    def _many(self, size, count=1000):
        c = self.connect()
        msgs = [ping_of_size(size) for _ in range(count)]
        sender = c.start_sender(b"".join(build_frame(OP_TEXT, m) for m, _ in msgs))
        deadline = time.monotonic() + 10
        for i, (_, t) in enumerate(msgs):
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "only %d of %d pongs within 10 s" % (i, count))
            f = c.recv_frame(timeout=min(left, 5))
            self.checkPong(f, t)
        sender.join(5)
        self.assertIsNone(sender.error)
        self.assertOpen(c)

    def test_9_7_3_1000_messages_25b(self):
        """Autobahn 9.7.2/9.7.3 adapted (25 bytes is the smallest ping
        message): 1000 text messages of 25 bytes back to back -> 1000 pongs
        in order."""
        self._many(25)

    def test_9_7_4_1000_messages_256b(self):
        """Autobahn 9.7.4: 1000 text messages of 256 bytes back to back ->
        1000 pongs in order."""
        self._many(256)

    def test_9_7_5_1000_messages_1k(self):
        """Autobahn 9.7.5: 1000 text messages of 1 KiB back to back -> 1000
        pongs in order."""
        self._many(1024)

    def test_9_7_6_1000_messages_4k(self):
        """Autobahn 9.7.6: 1000 text messages of 4 KiB back to back -> 1000
        pongs in order."""
        self._many(4096)

    def test_9_x_over_max_one_frame(self):
        """Autobahn 9.1 adapted: a text message of max+1 (1048577) bytes in
        one frame -> close 1009."""
        c = self.connect()
        msg, _ = ping_of_size(BIG + 1)
        sender = c.start_sender(build_frame(OP_TEXT, msg))
        self.assertClose(c, 1009, timeout=8)
        sender.join(5)

    def test_9_x_over_max_fragments_no_fin(self):
        """Autobahn 9.3 adapted: 1 MiB in 64 KiB fragments without FIN
        (accepted, no reply), then one more byte (FIN=0) -> close 1009 at
        once, FIN never sent."""
        c = self.connect()
        msg, _ = ping_of_size(BIG + 1)
        sender = c.start_sender(fragments(msg[:BIG], 65536, final=False))
        sender.join(8)
        self.assertIsNone(sender.error)
        c.expect_no_frame(0.3)
        c.send_frame(OP_CONT, msg[BIG:], fin=False)
        self.assertClose(c, 1009, timeout=3)

    def test_9_x_length_2_62(self):
        """Autobahn 9.x adapted (RFC 6455 10.4): a frame header announcing
        2^62 bytes -> close 1009 without the payload being sent."""
        c = self.connect()
        c.send_raw(build_frame(OP_TEXT, b'{"handler":"ping"', length=1 << 62))
        self.assertClose(c, 1009, timeout=3)


class DefaultLimit(RelayCase):
    """No --max-message: the default is 4096 bytes."""

    def test_9_x_default_4096_ok(self):
        """Autobahn 9.x adapted: a 4096-byte ping message (the default
        maximum) in one frame -> pong."""
        c = self.connect()
        self.roundtrip(c, 4096)
        self.roundtrip(c, 4096)

    def test_9_x_default_4096_fragments_ok(self):
        """Autobahn 9.3 adapted: a 4096-byte message in 16-byte fragments,
        and in 1-byte fragments -> pong each; the count restarts with each
        message (10 such messages in a row all pass)."""
        c = self.connect()
        for size in (16, 1):
            msg, t = ping_of_size(4096)
            c.send_raw(fragments(msg, size))
            self.assertPong(c, t)
        msgs = [ping_of_size(4096) for _ in range(10)]
        c.send_raw(b"".join(fragments(m, 1000) for m, _ in msgs))
        for _, t in msgs:
            self.assertPong(c, t)

    def test_9_x_default_control_frames_not_counted(self):
        """Autobahn 5.6 + 9.x: a 4096-byte message in 4 fragments with 125-byte
        pings between them -> 3 pongs, then the pong message (control
        payloads do not count toward the message size)."""
        c = self.connect()
        msg, t = ping_of_size(4096)
        p = [msg[i:i + 1024] for i in range(0, 4096, 1024)]
        data = b""
        for i, piece in enumerate(p):
            data += build_frame(OP_TEXT if i == 0 else OP_CONT, piece, fin=(i == 3))
            if i < 3:
                data += build_frame(OP_PING, bytes([i]) * 125)
        c.send_raw(data)
        for i in range(3):
            self.assertWsPong(c, bytes([i]) * 125)
        self.assertPong(c, t)

    def test_9_x_default_4097_one_frame(self):
        """Autobahn 9.x adapted: a 4097-byte message in one frame -> close 1009."""
        c = self.connect()
        msg, _ = ping_of_size(4097)
        c.send_text(msg)
        self.assertClose(c, 1009)

    def test_9_x_default_4097_header_only(self):
        """Autobahn 9.x adapted: a frame header announcing 4097 bytes, payload
        not sent -> close 1009 (the header alone passes the limit)."""
        c = self.connect()
        c.send_raw(build_frame(OP_TEXT, b"", length=4097))
        self.assertClose(c, 1009, timeout=3)

    def test_9_x_default_4097_one_byte_fragments(self):
        """Autobahn 9.3 adapted: 4096 one-byte fragments without FIN (no
        reply), then a 4097th byte (FIN=0) -> close 1009 at once."""
        c = self.connect()
        msg, _ = ping_of_size(4097)
        c.send_raw(fragments(msg[:4096], 1, final=False))
        c.expect_no_frame(0.3)
        c.send_frame(OP_CONT, msg[4096:], fin=False)
        self.assertClose(c, 1009, timeout=3)

    def test_9_x_default_4097_16_byte_fragments(self):
        """Autobahn 9.3 adapted: 4097 bytes in 16-byte fragments, no FIN
        ever -> close 1009."""
        c = self.connect()
        msg, _ = ping_of_size(4097)
        c.send_raw(fragments(msg, 16, final=False))
        self.assertClose(c, 1009, timeout=3)

    def test_9_x_default_over_limit_in_second_fragment(self):
        """Autobahn 9.3 adapted: 4000-byte first fragment, then a 200-byte
        continuation (FIN=0) -> close 1009."""
        c = self.connect()
        msg, _ = ping_of_size(4200)
        c.send_raw(build_frame(OP_TEXT, msg[:4000], fin=False) + build_frame(OP_CONT, msg[4000:], fin=False))
        self.assertClose(c, 1009, timeout=3)

    def test_9_x_default_length_2_62(self):
        """Autobahn 9.x adapted: a header announcing 2^62 bytes -> close 1009."""
        c = self.connect()
        c.send_raw(build_frame(OP_TEXT, b"", length=1 << 62))
        self.assertClose(c, 1009, timeout=3)
