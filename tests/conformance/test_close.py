"""Section 7 (closing handshake): a client close is answered with a close
carrying the same code, then the server closes TCP; nothing the client sends
after its close is processed; bad close payloads fail the connection."""
from .common import (BIG_ARGS, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RelayCase,
                     allow_any_pong, build_frame, close_payload, ping_of_size)

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
               3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


class CloseBehaviour(RelayCase):
    RELAY_ARGS = BIG_ARGS

    def test_7_1_1_message_then_close(self):
        """Autobahn 7.1.1: ping message, pong received, then close 1000 ->
        close 1000 and TCP closed."""
        c = self.connect()
        msg, t = ping_of_size(40)
        c.send_text(msg)
        self.assertPong(c, t)
        c.send_close(1000)
        self.assertClose(c, 1000)

    def test_7_1_1b_message_and_close_same_write(self):
        """Autobahn 7.1.1 variant: ping message and close 1000 in one write ->
        the pong may come, the close 1000 must."""
        c = self.connect()
        msg, _ = ping_of_size(40)
        c.send_raw(build_frame(OP_TEXT, msg) + build_frame(OP_CLOSE, close_payload(1000)))
        self.assertClose(c, 1000, allow=allow_any_pong)

    def test_7_1_2_close_twice(self):
        """Autobahn 7.1.2: close 1000 twice -> one close 1000, TCP closed."""
        c = self.connect()
        c.send_raw(build_frame(OP_CLOSE, close_payload(1000)) * 2)
        self.assertClose(c, 1000)

    def test_7_1_3_ping_after_close(self):
        """Autobahn 7.1.3: close 1000, then a ping -> close 1000, no pong."""
        c = self.connect()
        c.send_raw(build_frame(OP_CLOSE, close_payload(1000)) + build_frame(OP_PING, b"after close"))
        self.assertClose(c, 1000)

    def test_7_1_4_text_after_close(self):
        """Autobahn 7.1.4: close 1000, then a ping message -> close 1000 only."""
        c = self.connect()
        msg, _ = ping_of_size(40)
        c.send_raw(build_frame(OP_CLOSE, close_payload(1000)) + build_frame(OP_TEXT, msg))
        self.assertClose(c, 1000)

    def test_7_1_4b_garbage_after_close(self):
        """Autobahn 7.1.4 variant: close 1000, then frames that would fail the
        connection (RSV bit, reserved opcode, unmasked, binary) -> close
        1000, not 1002/1003: they are never read as frames to act on."""
        c = self.connect()
        c.send_raw(build_frame(OP_CLOSE, close_payload(1000)) + build_frame(OP_TEXT, b"x", rsv=1) +
                   build_frame(5, b"") + build_frame(OP_TEXT, b"x", mask=False) + build_frame(2, b"b"))
        self.assertClose(c, 1000)

    def test_7_1_4c_text_after_close_separate_write(self):
        """Autobahn 7.1.4 variant: close 1000; after the close reply, a ping
        message and a ping -> nothing more (TCP closed)."""
        c = self.connect()
        c.send_close(1000)
        f = c.recv_frame()
        self.assertEqual(f.opcode, OP_CLOSE, f)
        msg, _ = ping_of_size(40)
        c.send_raw(build_frame(OP_TEXT, msg) + build_frame(OP_PING, b"p"))
        c.expect_eof()

    def test_7_1_5_close_inside_fragmented_message(self):
        """Autobahn 7.1.5: text fragment (FIN=0), close 1000, continuation
        -> close 1000, no pong."""
        c = self.connect()
        msg, _ = ping_of_size(40)
        c.send_raw(build_frame(OP_TEXT, msg[:10], fin=False) + build_frame(OP_CLOSE, close_payload(1000)) +
                   build_frame(OP_CONT, msg[10:]))
        self.assertClose(c, 1000)

    def test_7_1_6_large_message_ping_close(self):
        """Autobahn 7.1.6: a 256 KiB ping message, a ping and close 1000 in
        one go -> the replies may come, close 1000 must."""
        c = self.connect()
        msg, _ = ping_of_size(256 * 1024)
        data = build_frame(OP_TEXT, msg) + build_frame(OP_PING, b"ping") + build_frame(OP_CLOSE, close_payload(1000))
        sender = c.start_sender(data)
        self.assertClose(c, 1000, allow=allow_any_pong, timeout=8)
        sender.join(5)
        self.assertIsNone(sender.error)

    def test_7_1_x_pong_then_close(self):
        """Autobahn 7.1.x variant: unsolicited pong then close 1000 -> close 1000."""
        c = self.connect()
        c.send_raw(build_frame(OP_PONG, b"x") + build_frame(OP_CLOSE, close_payload(1000)))
        self.assertClose(c, 1000)

    def test_7_1_x_close_chopped(self):
        """Autobahn 7.1.x variant: close 1000 with a reason, written one byte
        at a time -> close 1000."""
        c = self.connect()
        c.send_close(1000, b"bye", chunk=1, delay=0.001)
        self.assertClose(c, 1000)


class ClosePayloads(RelayCase):

    def test_7_3_1_empty_close(self):
        """Autobahn 7.3.1: close with empty payload -> close with empty
        payload (or 1000), TCP closed."""
        c = self.connect()
        c.send_close()
        self.assertClose(c, (None, 1000))

    def test_7_3_2_one_byte_close(self):
        """Autobahn 7.3.2: close with a 1-byte payload -> close 1002."""
        c = self.connect()
        c.send_frame(OP_CLOSE, b"\x03")
        self.assertClose(c, 1002)

    def test_7_3_3_close_1000(self):
        """Autobahn 7.3.3: close 1000, no reason -> close 1000."""
        c = self.connect()
        c.send_close(1000)
        self.assertClose(c, 1000)

    def test_7_3_4_close_1000_reason(self):
        """Autobahn 7.3.4: close 1000 with a short reason -> close 1000."""
        c = self.connect()
        c.send_close(1000, b"Hello World!")
        self.assertClose(c, 1000)

    def test_7_3_5_close_123_byte_reason(self):
        """Autobahn 7.3.5: close 1000 with a 123-byte reason (payload 125,
        the maximum) -> close 1000."""
        c = self.connect()
        c.send_close(1000, b"*" * 123)
        self.assertClose(c, 1000)

    def test_7_3_6_close_124_byte_reason(self):
        """Autobahn 7.3.6: close 1000 with a 124-byte reason (payload 126 >
        125) -> close 1002."""
        c = self.connect()
        c.send_close(1000, b"*" * 124)
        self.assertClose(c, 1002)

    def test_7_3_x_close_utf8_reason(self):
        """Autobahn 7.3.4 variant: close 1000 with a multi-byte UTF-8 reason
        (kosme and U+10FFFF, 121 bytes) -> close 1000."""
        c = self.connect()
        reason = ("κόσμε\U0010FFFF" * 8).encode()[:121]
        reason.decode("utf-8")
        c.send_close(1000, reason)
        self.assertClose(c, 1000)

    def test_7_5_1_invalid_utf8_reason(self):
        """Autobahn 7.5.1: close 1000 whose reason is invalid UTF-8
        (kosme + surrogate + 'edited') -> close 1007."""
        c = self.connect()
        c.send_close(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64")
        self.assertClose(c, 1007)

    def test_7_5_x_invalid_utf8_reasons(self):
        """Autobahn 7.5.1 family: close reasons with an overlong form, a code
        point > U+10FFFF, FF, a lone continuation, a sequence truncated at
        the end -> close 1007 each (one connection each)."""
        for reason in (b"\xc0\xaf", b"ok\xf4\x90\x80\x80", b"\xff", b"\x80abc", b"abc\xce", b"\xe1\xbd"):
            with self.subTest(reason=reason):
                c = self.connect()
                c.send_close(1000, reason)
                self.assertClose(c, 1007)
                c.abort()


def _code_case(code, valid):
    def test(self):
        c = self.connect()
        c.send_close(code, b"reason" if code % 2 else b"")
        self.assertClose(c, code if valid else 1002)
    return test


class CloseCodes(RelayCase):
    pass


for _code in VALID_CODES:
    _t = _code_case(_code, True)
    _t.__name__ = "test_7_7_valid_code_%d" % _code
    _t.__doc__ = "Autobahn 7.7.x: close with valid code %d -> close %d echoed." % (_code, _code)
    setattr(CloseCodes, _t.__name__, _t)

for _code in INVALID_CODES:
    _t = _code_case(_code, False)
    _fam = "7.13" if _code >= 5000 else "7.9"
    _t.__name__ = "test_%s_invalid_code_%d" % (_fam.replace(".", "_"), _code)
    _t.__doc__ = "Autobahn %s.x: close with invalid code %d -> close 1002." % (_fam, _code)
    setattr(CloseCodes, _t.__name__, _t)

del _t, _fam
