"""Section 6 (UTF-8 handling): text must be valid UTF-8, checked across
fragments and reads, failing fast; invalid text gets close 1007.

The Autobahn 6.x byte sequences are carried inside the t string of a ping
message, so valid text must come back byte-identical in the pong, and
invalid text must close 1007 before any JSON handling. Raw control
characters (< 0x20) are valid UTF-8 but not valid inside a JSON string, so
they are kept out of the valid sequences (and tested on their own).
"""
import time

from tests.lib.wire import Timeout, cut_at, message_frames

from .common import OP_CLOSE, OP_CONT, OP_TEXT, PREFIX, RelayCase, build_frame, ping_msg

KOSME = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"          # "κόσμε"
HELLO = "Hello-µ@ßöäüàá-UTF-8!!".encode("utf-8")

# -- valid sequences (Autobahn 6.2, 6.5, 6.7, 6.9, 6.11, 6.22, 6.23) --------
VALID = [
    ("6_2_1", "Hello-µ@ßöäüàá-UTF-8!!", HELLO),
    ("6_5_1", "kosme", KOSME),
    ("6_5_2", "U+03BA kappa", b"\xce\xba"),
    ("6_5_3", "kosme x2", KOSME + KOSME),
    ("6_5_4", "CJK Greek emoji mix", "日本語 κόσμε \U0001F600 z".encode()),
    ("6_5_5", "U+1F600 emoji", "\U0001F600".encode()),
    ("6_7_2", "first 2-byte U+0080", b"\xc2\x80"),
    ("6_7_3", "first 3-byte U+0800", b"\xe0\xa0\x80"),
    ("6_7_4", "first 4-byte U+10000", b"\xf0\x90\x80\x80"),
    ("6_9_1", "last 1-byte U+007F", b"\x7f"),
    ("6_9_2", "last 2-byte U+07FF", b"\xdf\xbf"),
    ("6_9_3", "last 3-byte U+FFFF", b"\xef\xbf\xbf"),
    ("6_11_1", "U+D7FF", b"\xed\x9f\xbf"),
    ("6_11_2", "U+E000", b"\xee\x80\x80"),
    ("6_11_3", "U+FFFD", b"\xef\xbf\xbd"),
    ("6_11_4", "U+10FFFF", b"\xf4\x8f\xbf\xbf"),
    ("6_22_1", "noncharacter U+FFFE", b"\xef\xbf\xbe"),
    ("6_22_2", "noncharacter U+FFFF", b"\xef\xbf\xbf"),
    ("6_22_3", "noncharacters U+1FFFE U+1FFFF",  b"\xf0\x9f\xbf\xbe\xf0\x9f\xbf\xbf"),
    ("6_22_4", "noncharacters U+2FFFE U+2FFFF", b"\xf0\xaf\xbf\xbe\xf0\xaf\xbf\xbf"),
    ("6_22_5", "noncharacters U+10FFFE U+10FFFF", b"\xf4\x8f\xbf\xbe\xf4\x8f\xbf\xbf"),
    ("6_22_6", "noncharacters U+FDD0..U+FDEF",
     b"".join(chr(c).encode() for c in range(0xFDD0, 0xFDF0))),
    ("6_22_7", "all plane-end noncharacters",
     b"".join(chr((p << 16) | 0xFFFE).encode() + chr((p << 16) | 0xFFFF).encode() for p in range(17))),
    ("6_23_1", "U+FFFD x3", b"\xef\xbf\xbd" * 3),
    ("6_23_2", "U+0065 U+0301 combining", b"e\xcc\x81"),
    ("6_23_3", "JSON escapes of control chars", b"\\u0000\\u001f\\n\\t\\\"\\\\\\/"),
]

# Every boundary of U+0000..U+10FFFF in one string (no raw control chars).
BOUNDARIES = (KOSME + b"\x20\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
              b"\xef\xbf\xbd\xef\xbf\xbe\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf" + HELLO)

# -- invalid sequences ------------------------------------------------------
INVALID = [
    ("6_3_1", "kosme + surrogate U+D800 + 'edited'", KOSME + b"\xed\xa0\x80edited"),
    ("6_8_1", "5-byte F8 88 80 80 80", b"\xf8\x88\x80\x80\x80"),
    ("6_8_2", "6-byte FC 84 80 80 80 80", b"\xfc\x84\x80\x80\x80\x80"),
    ("6_10_1", "U+1FFFFF F7 BF BF BF", b"\xf7\xbf\xbf\xbf"),
    ("6_10_2", "5-byte FB BF BF BF BF", b"\xfb\xbf\xbf\xbf\xbf"),
    ("6_10_3", "6-byte FD BF BF BF BF BF", b"\xfd\xbf\xbf\xbf\xbf\xbf"),
    ("6_11_5", "U+110000 F4 90 80 80", b"\xf4\x90\x80\x80"),
    ("6_11_6", "F5 lead byte", b"\xf5\x80\x80\x80"),
    ("6_11_7", "U+13FFFF F4 BF BF BF", b"\xf4\xbf\xbf\xbf"),
    ("6_12_1", "lone continuation 80", b"\x80"),
    ("6_12_2", "lone continuation BF", b"\xbf"),
    ("6_12_3", "80 BF", b"\x80\xbf"),
    ("6_12_4", "80 BF 80", b"\x80\xbf\x80"),
    ("6_12_5", "80 BF 80 BF", b"\x80\xbf\x80\xbf"),
    ("6_12_6", "80 BF 80 BF 80", b"\x80\xbf\x80\xbf\x80"),
    ("6_12_7", "80 BF 80 BF 80 BF", b"\x80\xbf\x80\xbf\x80\xbf"),
    ("6_12_8", "all 64 continuation bytes", bytes(range(0x80, 0xC0))),
    ("6_12_9", "continuation after ASCII in kosme", KOSME[:2] + b"\x80" + KOSME[2:]),
    ("6_13_1", "lonely 2-byte starts C0..DF + space", b"".join(bytes([b, 0x20]) for b in range(0xC0, 0xE0))),
    ("6_13_2", "lonely 3-byte starts E0..EF + space", b"".join(bytes([b, 0x20]) for b in range(0xE0, 0xF0))),
    ("6_13_3", "lonely 4-byte starts F0..F7 + space", b"".join(bytes([b, 0x20]) for b in range(0xF0, 0xF8))),
    ("6_13_4", "lonely 5-byte starts F8..FB + space", b"".join(bytes([b, 0x20]) for b in range(0xF8, 0xFC))),
    ("6_13_5", "lonely 6-byte starts FC FD + space", b"\xfc\x20\xfd\x20"),
    ("6_13_6", "lonely C2 + space", b"\xc2\x20"),
    ("6_13_7", "lonely E1 + space", b"\xe1\x20"),
    ("6_13_8", "lonely F1 + space", b"\xf1\x20"),
    ("6_14_1", "C0 (last byte missing)", b"\xc0"),
    ("6_14_2", "E0 80 (last byte missing)", b"\xe0\x80"),
    ("6_14_3", "F0 80 80 (last byte missing)", b"\xf0\x80\x80"),
    ("6_14_4", "F8 80 80 80 (last byte missing)", b"\xf8\x80\x80\x80"),
    ("6_14_5", "FC 80 80 80 80 (last byte missing)", b"\xfc\x80\x80\x80\x80"),
    ("6_14_6", "DF (last byte missing)", b"\xdf"),
    ("6_14_7", "EF BF (last byte missing)", b"\xef\xbf"),
    ("6_14_8", "F7 BF BF (last byte missing)", b"\xf7\xbf\xbf"),
    ("6_14_9", "FB BF BF BF (last byte missing)", b"\xfb\xbf\xbf\xbf"),
    ("6_14_10", "FD BF BF BF BF (last byte missing)", b"\xfd\xbf\xbf\xbf\xbf"),
    ("6_14_11", "CE (truncated kappa, valid lead)", b"\xce"),
    ("6_14_12", "E1 BD (truncated, valid prefix)", b"\xe1\xbd"),
    ("6_14_13", "F4 8F BF (truncated U+10FFFF)", b"\xf4\x8f\xbf"),
    ("6_15_1", "concatenation of 6.14.1-10",
     b"\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf"
     b"\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf"),
    ("6_16_1", "FE", b"\xfe"),
    ("6_16_2", "FF", b"\xff"),
    ("6_16_3", "FE FE FF FF", b"\xfe\xfe\xff\xff"),
    ("6_17_1", "overlong '/' C0 AF", b"\xc0\xaf"),
    ("6_17_2", "overlong '/' E0 80 AF", b"\xe0\x80\xaf"),
    ("6_17_3", "overlong '/' F0 80 80 AF", b"\xf0\x80\x80\xaf"),
    ("6_17_4", "overlong '/' F8 80 80 80 AF", b"\xf8\x80\x80\x80\xaf"),
    ("6_17_5", "overlong '/' FC 80 80 80 80 AF", b"\xfc\x80\x80\x80\x80\xaf"),
    ("6_17_6", "overlong '\"' C0 A2", b"\xc0\xa2"),
    ("6_18_1", "max overlong C1 BF", b"\xc1\xbf"),
    ("6_18_2", "max overlong E0 9F BF", b"\xe0\x9f\xbf"),
    ("6_18_3", "max overlong F0 8F BF BF", b"\xf0\x8f\xbf\xbf"),
    ("6_18_4", "max overlong F8 87 BF BF BF", b"\xf8\x87\xbf\xbf\xbf"),
    ("6_18_5", "max overlong FC 83 BF BF BF BF", b"\xfc\x83\xbf\xbf\xbf\xbf"),
    ("6_19_1", "overlong NUL C0 80", b"\xc0\x80"),
    ("6_19_2", "overlong NUL E0 80 80", b"\xe0\x80\x80"),
    ("6_19_3", "overlong NUL F0 80 80 80", b"\xf0\x80\x80\x80"),
    ("6_19_4", "overlong NUL F8 80 80 80 80", b"\xf8\x80\x80\x80\x80"),
    ("6_19_5", "overlong NUL FC 80 80 80 80 80", b"\xfc\x80\x80\x80\x80\x80"),
    ("6_20_1", "surrogate U+D800", b"\xed\xa0\x80"),
    ("6_20_2", "surrogate U+DB7F", b"\xed\xad\xbf"),
    ("6_20_3", "surrogate U+DB80", b"\xed\xae\x80"),
    ("6_20_4", "surrogate U+DBFF", b"\xed\xaf\xbf"),
    ("6_20_5", "surrogate U+DC00", b"\xed\xb0\x80"),
    ("6_20_6", "surrogate U+DF80", b"\xed\xbe\x80"),
    ("6_20_7", "surrogate U+DFFF", b"\xed\xbf\xbf"),
    ("6_21_1", "pair U+D800 U+DC00", b"\xed\xa0\x80\xed\xb0\x80"),
    ("6_21_2", "pair U+D800 U+DFFF", b"\xed\xa0\x80\xed\xbf\xbf"),
    ("6_21_3", "pair U+DB7F U+DC00", b"\xed\xad\xbf\xed\xb0\x80"),
    ("6_21_4", "pair U+DB7F U+DFFF", b"\xed\xad\xbf\xed\xbf\xbf"),
    ("6_21_5", "pair U+DB80 U+DC00", b"\xed\xae\x80\xed\xb0\x80"),
    ("6_21_6", "pair U+DB80 U+DFFF", b"\xed\xae\x80\xed\xbf\xbf"),
    ("6_21_7", "pair U+DBFF U+DC00", b"\xed\xaf\xbf\xed\xb0\x80"),
    ("6_21_8", "pair U+DBFF U+DFFF", b"\xed\xaf\xbf\xed\xbf\xbf"),
]

# Truncated sequences that end the message (no closing quote after them).
TRUNCATED_AT_END = [
    ("6_6_2", "kosme cut after CE", KOSME[:1]),
    ("6_6_4", "kosme cut after E1", KOSME[:3]),
    ("6_6_5", "kosme cut after E1 BD", KOSME[:4]),
    ("6_6_7", "kosme cut after CF", KOSME[:6]),
    ("6_6_9", "kosme cut after CE", KOSME[:8]),
    ("6_6_11", "kosme cut after CE", KOSME[:10]),
    ("6_14_x1", "ends with C2", b"\xc2"),
    ("6_14_x2", "ends with E0 A0", b"\xe0\xa0"),
    ("6_14_x3", "ends with F0 90 80", b"\xf0\x90\x80"),
    ("6_14_x4", "ends with F4 8F BF", b"\xf4\x8f\xbf"),
    ("6_14_x5", "ends with ED 9F", b"\xed\x9f"),
]


def _is_utf8(b):
    try:
        b.decode("utf-8", "strict")
        return True
    except UnicodeDecodeError:
        return False


for _n, _d, _seq in VALID:
    assert _is_utf8(_seq) and not any(c < 0x20 for c in _seq) and b'"' not in _seq.replace(b'\\"', b""), _n
for _n, _d, _seq in INVALID:
    assert not _is_utf8(ping_msg(_seq)[0]), _n
assert _is_utf8(BOUNDARIES)


class ValidUtf8(RelayCase):
    """Valid text: the pong's t is byte-identical, however it was cut."""


def _valid_case(seq):
    def test(self):
        c = self.connect()
        msg, t = ping_msg(seq)
        c.send_text(msg)                                     # one frame
        self.assertPong(c, t)
        c.send_raw(message_frames([msg[i:i + 1] for i in range(len(msg))]))   # 1-byte fragments
        self.assertPong(c, t)
        for k in range(len(PREFIX), len(msg) - 1):            # 2 fragments, every cut in t
            c.send_raw(message_frames(cut_at(msg, [k])))
            self.assertPong(c, t)
    return test


for _n, _d, _seq in VALID:
    _t = _valid_case(_seq)
    _t.__name__ = "test_%s_valid_%s" % (_n, "".join(ch if ch.isalnum() else "_" for ch in _d))
    _t.__doc__ = ("Autobahn %s: valid UTF-8 (%s) as one frame, as 1-byte fragments, and "
                  "in 2 fragments cut at every byte of t -> pong, t byte-identical." % (_n.replace("_", "."), _d))
    setattr(ValidUtf8, _t.__name__, _t)


class ValidUtf8Splits(RelayCase):

    def test_6_2_every_fragment_cut(self):
        """Autobahn 6.2.2-6.2.4 (and 6.5 boundaries): a message holding every
        U+0000..U+10FFFF length boundary and "κόσμε", in 2 fragments cut at
        every byte offset -> pong with byte-identical t each time."""
        c = self.connect()
        msg, t = ping_msg(BOUNDARIES)
        for k in range(len(msg) + 1):
            with self.subTest(cut=k):
                c.send_raw(message_frames(cut_at(msg, [k])))
                self.assertPong(c, t)

    def test_6_2_three_fragment_cuts(self):
        """Autobahn 6.2.3 family: the boundaries message in 3 fragments, cut
        at every pair of offsets up to 4 bytes apart inside the multi-byte
        part (e.g. F4 | 8F | BF BF) -> pong each time."""
        c = self.connect()
        msg, t = ping_msg(BOUNDARIES)
        start, end = len(PREFIX), len(PREFIX) + len(BOUNDARIES) - len(HELLO)
        for i in range(start, end):
            for j in range(i + 1, min(i + 5, end + 1)):
                with self.subTest(cuts=(i, j)):
                    c.send_raw(message_frames(cut_at(msg, [i, j])))
                    self.assertPong(c, t)

    def test_6_2_every_read_cut(self):
        """Autobahn 6.2 / 6.4.3 family: the boundaries message as one frame,
        written in 2 pieces cut at every byte offset of the frame (header
        included), each piece in its own read -> pong each time."""
        c = self.connect()
        msg, t = ping_msg(BOUNDARIES)
        frame = build_frame(OP_TEXT, msg)
        for k in range(1, len(frame)):
            with self.subTest(cut=k):
                c.send_raw(frame, splits=[k], delay=0.002)
                self.assertPong(c, t)

    def test_6_2_fragments_and_reads(self):
        """Autobahn 6.2 family: the boundaries message in 1-byte fragments,
        written one byte at a time -> pong."""
        c = self.connect()
        msg, t = ping_msg(BOUNDARIES)
        c.send_raw(message_frames([msg[i:i + 1] for i in range(len(msg))]), chunk=1, delay=0.0002)
        self.assertPong(c, t)

    def test_6_1_1_empty_text(self):
        """Autobahn 6.1.1: empty text message -> BAD_JSON (it is valid
        UTF-8, so not 1007); connection stays open."""
        c = self.connect()
        c.send_text(b"")
        self.assertError(c, "BAD_JSON")
        self.assertOpen(c)

    def test_6_1_3_empty_fragments_then_text(self):
        """Autobahn 6.1.3: empty fragment, non-empty, empty final -> pong."""
        c = self.connect()
        msg, t = ping_msg(KOSME)
        c.send_raw(message_frames([b"", msg, b""]))
        self.assertPong(c, t)

    def test_6_7_1_raw_control_chars(self):
        """Autobahn 6.7.1 (U+0000) and other raw control chars: valid UTF-8
        (so never close 1007); raw in a JSON string they are not JSON, so
        BAD_JSON (a lenient parser's pong is accepted); connection stays open."""
        c = self.connect()
        for raw in (b"\x00", b"a\x01b", b"\x1f", b"\x00\x00\x00"):
            with self.subTest(raw=raw):
                msg, t = ping_msg(raw)
                c.send_text(msg)
                f = c.recv_frame()
                self.assertEqual(f.opcode, OP_TEXT, f)
                if b'"pong"' in f.payload:
                    self.checkPong(f, t)
                else:
                    self.assertIn(b'"BAD_JSON"', f.payload)
        self.assertOpen(c)


class InvalidUtf8(RelayCase):
    """Invalid text: close 1007, however it was cut."""


def _invalid_case(seq, fragmented, at_end=False):
    def test(self):
        c = self.connect()
        msg = PREFIX + b"x" + seq if at_end else ping_msg(seq)[0]
        if fragmented:
            c.send_raw(message_frames([msg[i:i + 1] for i in range(len(msg))]))
        else:
            c.send_text(msg)
        self.assertClose(c, 1007)
    return test


for _n, _d, _seq in INVALID:
    for _frag in (False, True):
        _t = _invalid_case(_seq, _frag)
        _t.__name__ = "test_%s_invalid_%s%s" % (_n, "".join(ch if ch.isalnum() else "_" for ch in _d),
                                                "_fragmented" if _frag else "")
        _t.__doc__ = "Autobahn %s: invalid UTF-8 (%s) %s -> close 1007." % (
            _n.replace("_", "."), _d, "in 1-byte fragments" if _frag else "in one frame")
        setattr(InvalidUtf8, _t.__name__, _t)

for _n, _d, _seq in TRUNCATED_AT_END:
    for _frag in (False, True):
        _t = _invalid_case(_seq, _frag, at_end=True)
        _t.__name__ = "test_%s_truncated_at_end_%s%s" % (
            _n, "".join(ch if ch.isalnum() else "_" for ch in _d), "_fragmented" if _frag else "")
        _t.__doc__ = ("Autobahn %s: message ends inside a multi-byte sequence (%s), %s -> close 1007."
                      % (_n.replace("_", ".") if "x" not in _n else "6.14 family", _d,
                         "in 1-byte fragments" if _frag else "in one frame"))
        setattr(InvalidUtf8, _t.__name__, _t)


class InvalidUtf8Splits(RelayCase):
    """Invalid sequences cut at every offset, and fail-fast (Autobahn 6.4)."""

    MSG = ping_msg(INVALID[0][2])[0]                       # 6.3.1: kosme, U+D800, edited

    def test_6_3_2_every_fragment_cut(self):
        """Autobahn 6.3.2: kosme + U+D800 + 'edited' in 2 fragments cut at
        every byte offset -> close 1007 each time (one connection per cut)."""
        for k in range(len(self.MSG) + 1):
            with self.subTest(cut=k):
                c = self.connect()
                c.send_raw(message_frames(cut_at(self.MSG, [k])))
                self.assertClose(c, 1007)
                c.abort()

    def test_6_3_3_every_read_cut(self):
        """Autobahn 6.3 / 6.4.3 family: the same message as one frame, written
        in 2 pieces cut at every byte offset of the frame -> close 1007."""
        frame = build_frame(OP_TEXT, self.MSG)
        for k in range(1, len(frame)):
            with self.subTest(cut=k):
                c = self.connect()
                c.send_raw(frame, splits=[k], delay=0.002)
                self.assertClose(c, 1007)
                c.abort()

    def test_6_3_4_every_fragment_cut_out_of_range(self):
        """Autobahn 6.11.5 / 6.3.2 family: kosme + F4 90 80 80 (U+110000) +
        'edited' in 2 fragments cut at every offset in and around the
        sequence -> close 1007."""
        seq = KOSME + b"\xf4\x90\x80\x80edited"
        msg = ping_msg(seq)[0]
        base = len(PREFIX) + len(KOSME)
        for k in range(base - 2, base + 7):
            with self.subTest(cut=k):
                c = self.connect()
                c.send_raw(message_frames(cut_at(msg, [k])))
                self.assertClose(c, 1007)
                c.abort()

    def test_6_4_1_fail_fast_second_fragment(self):
        """Autobahn 6.4.1: 3 fragments; the 2nd (FIN=0) is F4 90 80 80
        (U+110000) -> close 1007 without waiting for the 3rd fragment."""
        c = self.connect()
        c.send_text(PREFIX + KOSME, fin=False)
        time.sleep(0.05)
        c.send_frame(OP_CONT, b"\xf4\x90\x80\x80", fin=False)
        self.assertClose(c, 1007, timeout=2.0)

    def test_6_4_2_fail_fast_split_sequence(self):
        """Autobahn 6.4.2: 1st fragment ends with F4 (valid prefix), 2nd
        (FIN=0) is 90 -> close 1007 without the 3rd fragment."""
        c = self.connect()
        c.send_text(PREFIX + KOSME + b"\xf4", fin=False)
        time.sleep(0.05)
        c.send_frame(OP_CONT, b"\x90", fin=False)
        self.assertClose(c, 1007, timeout=2.0)

    def _chopped(self, bad_end):
        c = self.connect()
        msg = ping_msg(KOSME + b"\xf4\x90\x80\x80edited")[0]
        frame = build_frame(OP_TEXT, msg)
        hdr = len(frame) - len(msg)
        p1 = hdr + len(PREFIX) + len(KOSME)
        c.send_raw(frame[:p1])
        time.sleep(0.05)
        c.send_raw(frame[p1:p1 + bad_end])
        try:                       # strict: fails before the rest arrives
            f = c.recv_frame(timeout=1.0)
        except Timeout:
            f = None
        if f is None:
            c.send_raw(frame[p1 + bad_end:])   # non-strict: fails at the end
            code, _ = c.expect_close()
        else:
            self.assertEqual(f.opcode, OP_CLOSE, f)
            code, _ = f.close_info()
            c.expect_eof()
        self.assertEqual(code, 1007)

    def test_6_4_3_chopped_frame(self):
        """Autobahn 6.4.3: one frame in 3 writes, the 2nd holds F4 90 80 80,
        the 3rd comes 1 s later -> close 1007 (before the 3rd write is
        Autobahn's strict pass; at the end, its non-strict pass: both accepted)."""
        self._chopped(4)

    def test_6_4_4_chopped_frame_two_bytes(self):
        """Autobahn 6.4.4: as 6.4.3 with the 2nd write only F4 90 -> close 1007."""
        self._chopped(2)

    def test_6_4_x_fail_fast_first_fragment(self):
        """Autobahn 6.4 family: the FIRST fragment (FIN=0) already holds a
        complete invalid sequence -> close 1007 though FIN never comes, for
        each family: overlong, surrogate, > U+10FFFF, FE/FF, lone
        continuation, 5-byte form, lonely start."""
        for seq in (b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xfe",
                    b"\xff", b"\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\x20", b"\xe1\x20"):
            with self.subTest(seq=seq):
                c = self.connect()
                c.send_text(PREFIX + b"ab" + seq + b"cd", fin=False)
                self.assertClose(c, 1007, timeout=2.0)
                c.abort()

    def test_6_4_x_fail_fast_later_fragment(self):
        """Autobahn 6.4.1 family: many valid fragments, then one (FIN=0) with
        a surrogate -> close 1007 without FIN."""
        c = self.connect()
        c.send_raw(message_frames([PREFIX, KOSME, b"abc", KOSME[:3], KOSME[3:]], final=False))
        time.sleep(0.05)
        c.send_frame(OP_CONT, b"\xed\xbf\xbf", fin=False)
        self.assertClose(c, 1007, timeout=2.0)

    def test_6_x_truncated_in_final_fragment(self):
        """Autobahn 6.6 family: the final fragment ends in the middle of a
        sequence (earlier fragments valid) -> close 1007."""
        c = self.connect()
        c.send_raw(message_frames([PREFIX + KOSME, b"ab", b"\xe1\xbd"]))
        self.assertClose(c, 1007)

    def test_6_x_valid_then_invalid(self):
        """Autobahn 6.x family: a valid message (pong), then an invalid one
        on the same connection -> close 1007."""
        c = self.connect()
        msg, t = ping_msg(KOSME)
        c.send_text(msg)
        self.assertPong(c, t)
        c.send_text(ping_msg(b"\xed\xa0\x80")[0])
        self.assertClose(c, 1007)
