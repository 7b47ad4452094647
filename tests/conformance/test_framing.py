"""Section 1 (framing): payload lengths in the 7-bit, 16-bit and 64-bit
length forms, chopped writes, binary messages, and the masking rule.

The relay runs with --max-message 1048576 so 64 KiB messages fit.
"""
from .common import BIG_ARGS, OP_BINARY, OP_PING, OP_TEXT, RelayCase, build_frame, ping_of_size


class TextFraming(RelayCase):
    RELAY_ARGS = BIG_ARGS

    def _echo(self, n, **send):
        c = self.connect()
        msg, t = ping_of_size(n)
        self.assertEqual(len(msg), n)
        c.send_text(msg, **send)
        self.assertPong(c, t)
        return c

    def test_1_1_1_empty_text(self):
        """Autobahn 1.1.1: text message with 0-byte payload. Not JSON, so the
        relay answers error BAD_JSON and keeps the connection open."""
        c = self.connect()
        c.send_text(b"")
        self.assertError(c, "BAD_JSON")
        self.assertOpen(c)

    def test_1_1_1b_one_byte_text(self):
        """Autobahn 1.1.x variant: a 1-byte text message ("x") is not JSON:
        BAD_JSON, connection stays open."""
        c = self.connect()
        c.send_text(b"x")
        self.assertError(c, "BAD_JSON")
        self.assertOpen(c)

    def test_1_1_2_len_125(self):
        """Autobahn 1.1.2: 125-byte text (largest 7-bit length)."""
        self._echo(125)

    def test_1_1_3_len_126(self):
        """Autobahn 1.1.3: 126-byte text (smallest 16-bit length)."""
        self._echo(126)

    def test_1_1_4_len_127(self):
        """Autobahn 1.1.4: 127-byte text (16-bit length)."""
        self._echo(127)

    def test_1_1_5_len_128(self):
        """Autobahn 1.1.5: 128-byte text (16-bit length)."""
        self._echo(128)

    def test_1_1_6_len_65535(self):
        """Autobahn 1.1.6: 65535-byte text (largest 16-bit length)."""
        self._echo(65535)

    def test_1_1_7_len_65536(self):
        """Autobahn 1.1.7: 65536-byte text (smallest 64-bit length)."""
        self._echo(65536)

    def test_1_1_8_len_65536_chopped(self):
        """Autobahn 1.1.8: 65536-byte text sent in chops of 997 bytes."""
        self._echo(65536, chunk=997, delay=0.0005)

    def test_1_1_x_length_sweep(self):
        """Autobahn 1.1.1-1.1.7 family: every length 25..300 and 65530..65540
        (across the 7-bit/16-bit and 16-bit/64-bit boundaries) on one
        connection -> a pong for each, t byte-identical."""
        c = self.connect()
        for n in list(range(25, 301)) + list(range(65530, 65541)):
            with self.subTest(length=n):
                msg, t = ping_of_size(n)
                c.send_text(msg)
                self.assertPong(c, t)

    def test_1_1_9_byte_by_byte_7bit(self):
        """Autobahn 1.1.x / 2.6 style: a 125-byte text frame written one byte
        per send (header and mask key included)."""
        self._echo(125, chunk=1, delay=0.001)

    def test_1_1_10_byte_by_byte_16bit(self):
        """Autobahn 1.1.x style: a 300-byte text frame (16-bit length) written
        one byte per send."""
        self._echo(300, chunk=1, delay=0.001)

    def test_1_1_11_header_split_64bit(self):
        """Autobahn 1.1.8 style: a 70000-byte frame (64-bit length) whose
        header is cut at every byte, then the payload in one write."""
        c = self.connect()
        msg, t = ping_of_size(70000)
        frame = build_frame(OP_TEXT, msg)
        c.send_raw(frame, splits=list(range(1, 15)))
        self.assertPong(c, t)

    def test_1_1_12_back_to_back_in_one_write(self):
        """Autobahn 1.1.x robustness: 20 text frames of mixed length-field
        forms in one TCP write -> 20 pongs in order."""
        c = self.connect()
        sizes = [25, 125, 126, 127, 65535, 65536, 200, 30, 1000, 125] * 2
        msgs = [ping_of_size(n) for n in sizes]
        sender = c.start_sender(b"".join(build_frame(OP_TEXT, m) for m, _ in msgs), chunk=None)
        for _, t in msgs:
            self.assertPong(c, t)
        sender.join(10)
        self.assertIsNone(sender.error)

    def test_1_1_13_zero_mask_key(self):
        """RFC 6455 5.3 (Autobahn 1.1.x framing): a masked frame whose key is
        0x00000000 is still a masked frame -> pong."""
        c = self.connect()
        msg, t = ping_of_size(60)
        c.send_text(msg, mask_key=b"\0\0\0\0")
        self.assertPong(c, t)


class BinaryFraming(RelayCase):
    """Autobahn 1.2.x sends binary messages; the relay takes only text, so
    every binary message is answered with close 1003."""
    RELAY_ARGS = BIG_ARGS

    def _binary(self, n, **send):
        c = self.connect()
        c.send_binary(bytes(i & 0xFF for i in range(n)), **send)
        self.assertClose(c, 1003)

    def test_1_2_1_len_0(self):
        """Autobahn 1.2.1: binary, 0 bytes -> close 1003."""
        self._binary(0)

    def test_1_2_2_len_125(self):
        """Autobahn 1.2.2: binary, 125 bytes -> close 1003."""
        self._binary(125)

    def test_1_2_3_len_126(self):
        """Autobahn 1.2.3: binary, 126 bytes -> close 1003."""
        self._binary(126)

    def test_1_2_4_len_127(self):
        """Autobahn 1.2.4: binary, 127 bytes -> close 1003."""
        self._binary(127)

    def test_1_2_5_len_128(self):
        """Autobahn 1.2.5: binary, 128 bytes -> close 1003."""
        self._binary(128)

    def test_1_2_6_len_65535(self):
        """Autobahn 1.2.6: binary, 65535 bytes -> close 1003."""
        self._binary(65535)

    def test_1_2_7_len_65536(self):
        """Autobahn 1.2.7: binary, 65536 bytes -> close 1003."""
        self._binary(65536)

    def test_1_2_8_len_65536_chopped(self):
        """Autobahn 1.2.8: binary, 65536 bytes in chops of 997 -> close 1003."""
        self._binary(65536, chunk=997, delay=0.0005)

    def test_1_2_9_after_text(self):
        """Autobahn 1.2.x: a valid text message, then a binary one -> pong,
        then close 1003."""
        c = self.connect()
        msg, t = ping_of_size(50)
        c.send_raw(build_frame(OP_TEXT, msg) + build_frame(OP_BINARY, b"\x00\x01\x02"))
        self.assertPong(c, t)
        self.assertClose(c, 1003)


class Masking(RelayCase):
    """RFC 6455 5.1: a server MUST close the connection on an unmasked client
    frame (no Autobahn case: its fuzzing client always masks; complements 1.x)."""

    def test_1_x_unmasked_text(self):
        """RFC 6455 5.1 (Autobahn 1.x framing): unmasked text -> close 1002."""
        c = self.connect()
        msg, _ = ping_of_size(40)
        c.send_text(msg, mask=False)
        self.assertClose(c, 1002)

    def test_1_x_unmasked_empty_text(self):
        """RFC 6455 5.1 (Autobahn 1.x framing): unmasked empty text -> close 1002."""
        c = self.connect()
        c.send_text(b"", mask=False)
        self.assertClose(c, 1002)

    def test_1_x_unmasked_ping(self):
        """RFC 6455 5.1 (Autobahn 2.x framing): unmasked ping -> close 1002, no pong."""
        c = self.connect()
        c.send_ping(b"abc", mask=False)
        self.assertClose(c, 1002)

    def test_1_x_unmasked_close(self):
        """RFC 6455 5.1 (Autobahn 7.x framing): unmasked close 1000 -> close 1002."""
        c = self.connect()
        c.send_close(1000, mask=False)
        self.assertClose(c, 1002)

    def test_1_x_unmasked_after_valid(self):
        """RFC 6455 5.1 (Autobahn 1.x framing): a masked ping message, then an
        unmasked one in the same write -> one pong, then close 1002."""
        c = self.connect()
        m1, t1 = ping_of_size(40)
        m2, _ = ping_of_size(40)
        c.send_raw(build_frame(OP_TEXT, m1) + build_frame(OP_TEXT, m2, mask=False))
        self.assertPong(c, t1)
        self.assertClose(c, 1002)

    def test_1_x_length_msb_set(self):
        """RFC 6455 5.2 (Autobahn 1.x framing): a 64-bit length with the most
        significant bit set is invalid -> close 1002 (or 1009: too big)."""
        c = self.connect()
        c.send_raw(build_frame(OP_TEXT, b"", length=1 << 63))
        self.assertClose(c, (1002, 1009))

    def test_1_x_close_unmasked_never_answered_with_pong(self):
        """RFC 6455 5.1 (Autobahn 2.x framing): unmasked ping with 125 bytes in
        a chopped write -> close 1002, never a pong."""
        c = self.connect()
        c.send_frame(OP_PING, b"p" * 125, mask=False, chunk=16)
        self.assertClose(c, 1002)

