"""Sections 3 (reserved bits) and 4 (reserved opcodes): no extension is
negotiated, so any RSV bit and any opcode 3-7 or 11-15 fails the connection
with close 1002; nothing after the bad frame is processed."""
from .common import OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, RelayCase, build_frame, close_payload, ping_of_size


class ReservedBits(RelayCase):

    def test_3_1_rsv1_text(self):
        """Autobahn 3.1: small text with RSV=1 -> close 1002."""
        c = self.connect()
        msg, _ = ping_of_size(30)
        c.send_text(msg, rsv=1)
        self.assertClose(c, 1002)

    def test_3_2_rsv2_after_valid(self):
        """Autobahn 3.2: valid text, then text with RSV=2 -> pong, close 1002."""
        c = self.connect()
        m1, t1 = ping_of_size(30)
        m2, _ = ping_of_size(30)
        c.send_text(m1)
        self.assertPong(c, t1)
        c.send_text(m2, rsv=2)
        self.assertClose(c, 1002)

    def test_3_3_rsv3_same_write(self):
        """Autobahn 3.3: valid text and text with RSV=3 in one write, then a
        ping -> pong for the first, close 1002, no pong for the ping."""
        c = self.connect()
        m1, t1 = ping_of_size(30)
        m2, _ = ping_of_size(30)
        c.send_raw(build_frame(OP_TEXT, m1) + build_frame(OP_TEXT, m2, rsv=3) +
                   build_frame(OP_PING, b"must not be answered"))
        self.assertPong(c, t1)
        self.assertClose(c, 1002)

    def test_3_4_rsv4_chopped(self):
        """Autobahn 3.4: valid text, text with RSV=4, ping, all written one
        byte at a time -> pong for the first, close 1002, no pong."""
        c = self.connect()
        m1, t1 = ping_of_size(30)
        m2, _ = ping_of_size(30)
        c.send_raw(build_frame(OP_TEXT, m1) + build_frame(OP_TEXT, m2, rsv=4) +
                   build_frame(OP_PING, b"must not be answered"), chunk=1, delay=0.0005)
        self.assertPong(c, t1)
        self.assertClose(c, 1002)

    def test_3_5_rsv5_binary(self):
        """Autobahn 3.5: binary with RSV=5 -> close 1002 (framing error first)."""
        c = self.connect()
        c.send_binary(b"\x00\xff" * 4, rsv=5)
        self.assertClose(c, 1002)

    def test_3_6_rsv6_ping(self):
        """Autobahn 3.6: ping with RSV=6 -> close 1002, no pong."""
        c = self.connect()
        c.send_ping(b"ping", rsv=6)
        self.assertClose(c, 1002)

    def test_3_7_rsv7_close(self):
        """Autobahn 3.7: close 1000 with RSV=7 -> close 1002."""
        c = self.connect()
        c.send_frame(OP_CLOSE, close_payload(1000), rsv=7)
        self.assertClose(c, 1002)

    def test_3_8_rsv_on_continuation(self):
        """Autobahn 3.x variant: text fragment, then a continuation with RSV=1
        -> close 1002."""
        c = self.connect()
        msg, _ = ping_of_size(40)
        c.send_raw(build_frame(OP_TEXT, msg[:10], fin=False) +
                   build_frame(OP_CONT, msg[10:], rsv=1))
        self.assertClose(c, 1002)

    def test_3_9_rsv_on_pong(self):
        """Autobahn 3.x variant: unsolicited pong with RSV=1 -> close 1002."""
        c = self.connect()
        c.send_pong(b"x", rsv=1)
        self.assertClose(c, 1002)


def _opcode_case(op, with_payload, variant):
    """variant: 'alone' | 'between' (text, bad frame, ping) | 'chopped'."""
    def test(self):
        c = self.connect()
        bad = build_frame(op, b"reserved opcode payload" if with_payload else b"")
        if variant == "alone":
            c.send_raw(bad)
            self.assertClose(c, 1002)
            return
        m1, t1 = ping_of_size(30)
        data = build_frame(OP_TEXT, m1) + bad + build_frame(OP_PING, b"must not be answered")
        if variant == "chopped":
            c.send_raw(data, chunk=1, delay=0.0005)
        else:
            c.send_raw(data)
        self.assertPong(c, t1)
        self.assertClose(c, 1002)
    return test


# Autobahn 4.1.x (non-control 3-7) and 4.2.x (control 11-15), as Autobahn
# runs them, then every reserved opcode alone with and without payload.
_AUTOBAHN_4 = [
    ("4_1_1", 3, False, "alone", "opcode 3, no payload"),
    ("4_1_2", 4, True, "alone", "opcode 4 with payload"),
    ("4_1_3", 5, False, "between", "text, opcode 5, ping: pong for text only"),
    ("4_1_4", 6, True, "between", "text, opcode 6 with payload, ping"),
    ("4_1_5", 7, True, "chopped", "text, opcode 7 with payload, ping, octet-wise"),
    ("4_2_1", 11, False, "alone", "opcode 11, no payload"),
    ("4_2_2", 12, True, "alone", "opcode 12 with payload"),
    ("4_2_3", 13, False, "between", "text, opcode 13, ping: pong for text only"),
    ("4_2_4", 14, True, "between", "text, opcode 14 with payload, ping"),
    ("4_2_5", 15, True, "chopped", "text, opcode 15 with payload, ping, octet-wise"),
]


class ReservedOpcodes(RelayCase):
    pass


for _name, _op, _pl, _var, _desc in _AUTOBAHN_4:
    _t = _opcode_case(_op, _pl, _var)
    _t.__name__ = "test_%s_opcode_%d" % (_name, _op)
    _t.__doc__ = "Autobahn %s: %s -> close 1002." % (_name.replace("_", "."), _desc)
    setattr(ReservedOpcodes, _t.__name__, _t)

for _op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
    for _pl in (False, True):
        _t = _opcode_case(_op, _pl, "alone")
        _t.__name__ = "test_4_x_opcode_%d_%s" % (_op, "payload" if _pl else "empty")
        _t.__doc__ = "Autobahn %s family: reserved opcode %d %s -> close 1002." % (
            "4.1" if _op < 8 else "4.2", _op, "with payload" if _pl else "without payload")
        setattr(ReservedOpcodes, _t.__name__, _t)

for _op in (3, 11):
    def _fin0(self, op=_op):
        c = self.connect()
        c.send_raw(build_frame(op, b"abc", fin=False))
        self.assertClose(c, 1002)
    _fin0.__name__ = "test_4_x_opcode_%d_fin0" % _op
    _fin0.__doc__ = ("Autobahn %s family: reserved opcode %d with FIN=0 -> close 1002."
                     % ("4.1" if _op < 8 else "4.2", _op))
    setattr(ReservedOpcodes, _fin0.__name__, _fin0)

del _t, _fin0
