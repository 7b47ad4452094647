"""Section 5 (fragmentation): fragmented text messages are reassembled
(control frames may come between fragments), control frames must not be
fragmented, and continuation frames need a message in progress."""
from tests.lib.wire import cut_at, message_frames

from .common import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RelayCase,
                     build_frame, close_payload, ping_of_size)


class ControlFragments(RelayCase):

    def test_5_1_fragmented_ping(self):
        """Autobahn 5.1: ping in 2 fragments (FIN=0 ping, continuation) -> close 1002."""
        c = self.connect()
        c.send_raw(build_frame(OP_PING, b"frag1", fin=False) + build_frame(OP_CONT, b"frag2"))
        self.assertClose(c, 1002)

    def test_5_1b_fragmented_ping_alone(self):
        """Autobahn 5.1 variant: a FIN=0 ping alone (nothing after it) -> close 1002."""
        c = self.connect()
        c.send_ping(b"frag1", fin=False)
        self.assertClose(c, 1002)

    def test_5_2_fragmented_pong(self):
        """Autobahn 5.2: pong in 2 fragments -> close 1002."""
        c = self.connect()
        c.send_raw(build_frame(OP_PONG, b"frag1", fin=False) + build_frame(OP_CONT, b"frag2"))
        self.assertClose(c, 1002)

    def test_5_2b_fragmented_close(self):
        """Autobahn 5.1/5.2 family: close with FIN=0 -> close 1002."""
        c = self.connect()
        c.send_frame(OP_CLOSE, close_payload(1000), fin=False)
        self.assertClose(c, 1002)

    def test_5_2c_fragmented_ping_inside_message(self):
        """Autobahn 5.1 family: a FIN=0 ping between two text fragments -> close 1002."""
        c = self.connect()
        msg, _ = ping_of_size(40)
        c.send_raw(build_frame(OP_TEXT, msg[:10], fin=False) + build_frame(OP_PING, b"x", fin=False))
        self.assertClose(c, 1002)


class TextFragments(RelayCase):

    def test_5_3_two_fragments(self):
        """Autobahn 5.3: text in 2 fragments, one write -> pong."""
        c = self.connect()
        msg, t = ping_of_size(60)
        c.send_raw(message_frames(cut_at(msg, [20])))
        self.assertPong(c, t)

    def test_5_4_two_fragments_separate_writes(self):
        """Autobahn 5.4: text in 2 fragments, each in its own write -> pong."""
        c = self.connect()
        msg, t = ping_of_size(60)
        c.send_fragments(OP_TEXT, cut_at(msg, [20]), delay=0.05)
        self.assertPong(c, t)

    def test_5_5_two_fragments_octetwise(self):
        """Autobahn 5.5: text in 2 fragments, written one byte at a time -> pong."""
        c = self.connect()
        msg, t = ping_of_size(60)
        c.send_raw(message_frames(cut_at(msg, [20])), chunk=1, delay=0.0005)
        self.assertPong(c, t)

    def test_5_6_ping_between_fragments(self):
        """Autobahn 5.6: text fragment, ping, final fragment, one write ->
        WebSocket pong, then the pong message."""
        c = self.connect()
        msg, t = ping_of_size(60)
        c.send_raw(build_frame(OP_TEXT, msg[:20], fin=False) + build_frame(OP_PING, b"between") +
                   build_frame(OP_CONT, msg[20:]))
        self.assertWsPong(c, b"between")
        self.assertPong(c, t)

    def test_5_7_ping_between_fragments_separate_writes(self):
        """Autobahn 5.7: as 5.6, each frame in its own write; the pong for
        the ping comes before the message is finished."""
        c = self.connect()
        msg, t = ping_of_size(60)
        c.send_text(msg[:20], fin=False)
        c.send_ping(b"between")
        self.assertWsPong(c, b"between")
        c.send_frame(OP_CONT, msg[20:])
        self.assertPong(c, t)

    def test_5_8_ping_between_fragments_octetwise(self):
        """Autobahn 5.8: as 5.6, written one byte at a time."""
        c = self.connect()
        msg, t = ping_of_size(60)
        data = (build_frame(OP_TEXT, msg[:20], fin=False) + build_frame(OP_PING, b"between") +
                build_frame(OP_CONT, msg[20:]))
        c.send_raw(data, chunk=1, delay=0.0005)
        self.assertWsPong(c, b"between")
        self.assertPong(c, t)

    def test_5_19_five_fragments_pings_delayed(self):
        """Autobahn 5.19: text in 5 fragments, a ping after the 2nd and after
        the 4th, each frame in its own write -> each ping answered before
        the message is finished, then the pong message."""
        c = self.connect()
        msg, t = ping_of_size(100)
        p = cut_at(msg, [20, 40, 60, 80])
        c.send_text(p[0], fin=False)
        c.send_frame(OP_CONT, p[1], fin=False)
        c.send_ping(b"pongme 1!")
        self.assertWsPong(c, b"pongme 1!")
        c.send_frame(OP_CONT, p[2], fin=False)
        c.send_frame(OP_CONT, p[3], fin=False)
        c.send_ping(b"pongme 2!")
        self.assertWsPong(c, b"pongme 2!")
        c.send_frame(OP_CONT, p[4])
        self.assertPong(c, t)

    def test_5_20_five_fragments_pings_chopped(self):
        """Autobahn 5.20: as 5.19, with the frames written byte by byte."""
        c = self.connect()
        msg, t = ping_of_size(100)
        p = cut_at(msg, [20, 40, 60, 80])
        data = (build_frame(OP_TEXT, p[0], fin=False) + build_frame(OP_CONT, p[1], fin=False) +
                build_frame(OP_PING, b"pongme 1!") + build_frame(OP_CONT, p[2], fin=False) +
                build_frame(OP_CONT, p[3], fin=False) + build_frame(OP_PING, b"pongme 2!") +
                build_frame(OP_CONT, p[4]))
        c.send_raw(data, chunk=1, delay=0.0003)
        self.assertWsPong(c, b"pongme 1!")
        self.assertWsPong(c, b"pongme 2!")
        self.assertPong(c, t)

    def test_5_x_pong_between_fragments(self):
        """Autobahn 5.6 family: an unsolicited pong between fragments is
        ignored -> only the pong message."""
        c = self.connect()
        msg, t = ping_of_size(60)
        c.send_raw(build_frame(OP_TEXT, msg[:20], fin=False) + build_frame(OP_PONG, b"ignored") +
                   build_frame(OP_CONT, msg[20:]))
        self.assertPong(c, t)
        c.expect_no_frame(0.2)

    def test_5_x_several_pings_between_fragments(self):
        """Autobahn 5.6 family: 3 pings (one empty) and a pong between the
        fragments of one message -> 3 pongs in order, then the message."""
        c = self.connect()
        msg, t = ping_of_size(90)
        p = cut_at(msg, [30, 60])
        c.send_raw(build_frame(OP_TEXT, p[0], fin=False) + build_frame(OP_PING, b"1") +
                   build_frame(OP_CONT, p[1], fin=False) + build_frame(OP_PING, b"") +
                   build_frame(OP_PONG, b"x") + build_frame(OP_PING, b"3") + build_frame(OP_CONT, p[2]))
        self.assertWsPong(c, b"1")
        self.assertWsPong(c, b"")
        self.assertWsPong(c, b"3")
        self.assertPong(c, t)

    def test_5_x_n_fragments(self):
        """Autobahn 5.3 family: one message in 2..40 fragments of equal-ish
        size (one connection, one message each) -> pong each time."""
        c = self.connect()
        for n in range(2, 41):
            with self.subTest(fragments=n):
                msg, t = ping_of_size(200)
                size = -(-len(msg) // n)
                cuts = [min(len(msg), size * i) for i in range(1, n)]
                c.send_raw(message_frames(cut_at(msg, cuts)))
                self.assertPong(c, t)

    def test_5_x_every_split_point(self):
        """Autobahn 5.3 family: a 2-fragment message cut at every byte
        offset 0..len (empty first or last fragment included) -> pong."""
        c = self.connect()
        msg, t = ping_of_size(70)
        for k in range(len(msg) + 1):
            with self.subTest(cut=k):
                c.send_raw(message_frames(cut_at(msg, [k])))
                self.assertPong(c, t)

    def test_5_x_empty_fragments(self):
        """Autobahn 5.x / 6.1.2 family: empty fragments anywhere -> pong:
        empty first fragment, empty middle ones, empty final continuation."""
        c = self.connect()
        msg, t = ping_of_size(50)
        cases = {
            "first empty": [b"", msg],
            "final empty": [msg, b""],
            "first and final empty": [b"", msg, b""],
            "many empties": [b"", b"", msg[:10], b"", msg[10:30], b"", b"", msg[30:], b""],
            "one byte each": [msg[i:i + 1] for i in range(len(msg))],
        }
        for name, pieces in cases.items():
            with self.subTest(name):
                self.assertEqual(b"".join(pieces), msg)
                c.send_raw(message_frames(pieces))
                self.assertPong(c, t)

    def test_5_x_all_empty_fragments(self):
        """Autobahn 6.1.2: a text message of 3 empty fragments (empty
        message, not JSON) -> error BAD_JSON, connection stays open."""
        c = self.connect()
        c.send_raw(message_frames([b"", b"", b""]))
        self.assertError(c, "BAD_JSON")
        self.assertOpen(c)

    def test_5_x_messages_after_fragmented(self):
        """Autobahn 5.x family: fragmented, single, fragmented, single
        messages in one write -> 4 pongs in order."""
        c = self.connect()
        msgs = [ping_of_size(n) for n in (80, 40, 300, 25)]
        data = (message_frames(cut_at(msgs[0][0], [10, 50])) + build_frame(OP_TEXT, msgs[1][0]) +
                message_frames(cut_at(msgs[2][0], [126, 127])) + build_frame(OP_TEXT, msgs[3][0]))
        c.send_raw(data)
        for _, t in msgs:
            self.assertPong(c, t)


class BadContinuations(RelayCase):

    def _fail(self, data, pong_first=None, **send):
        c = self.connect()
        c.send_raw(data, **send)
        if pong_first is not None:
            self.assertPong(c, pong_first)
        self.assertClose(c, 1002)

    def test_5_9_continuation_fin1_no_message(self):
        """Autobahn 5.9: continuation FIN=1 with nothing in progress, then a
        valid message -> close 1002, no pong."""
        msg, _ = ping_of_size(40)
        self._fail(build_frame(OP_CONT, b"fragment1") + build_frame(OP_TEXT, msg))

    def test_5_10_continuation_fin1_separate_writes(self):
        """Autobahn 5.10: as 5.9, frames in separate writes."""
        msg, _ = ping_of_size(40)
        self._fail(build_frame(OP_CONT, b"fragment1") + build_frame(OP_TEXT, msg), splits=[15])

    def test_5_11_continuation_fin1_octetwise(self):
        """Autobahn 5.11: as 5.9, written one byte at a time."""
        msg, _ = ping_of_size(40)
        self._fail(build_frame(OP_CONT, b"fragment1") + build_frame(OP_TEXT, msg), chunk=1, delay=0.0005)

    def test_5_12_continuation_fin0_no_message(self):
        """Autobahn 5.12: continuation FIN=0 with nothing in progress -> close 1002."""
        msg, _ = ping_of_size(40)
        self._fail(build_frame(OP_CONT, b"fragment1", fin=False) + build_frame(OP_TEXT, msg))

    def test_5_13_continuation_fin0_separate_writes(self):
        """Autobahn 5.13: as 5.12, frames in separate writes."""
        msg, _ = ping_of_size(40)
        self._fail(build_frame(OP_CONT, b"fragment1", fin=False) + build_frame(OP_TEXT, msg), splits=[15])

    def test_5_14_continuation_fin0_octetwise(self):
        """Autobahn 5.14: as 5.12, written one byte at a time."""
        msg, _ = ping_of_size(40)
        self._fail(build_frame(OP_CONT, b"fragment1", fin=False) + build_frame(OP_TEXT, msg),
                   chunk=1, delay=0.0005)

    def test_5_15_continuation_after_finished_message(self):
        """Autobahn 5.15: text FIN=0, continuation FIN=1 (message done, pong),
        then continuation FIN=0 with nothing in progress -> close 1002."""
        msg, t = ping_of_size(40)
        self._fail(build_frame(OP_TEXT, msg[:10], fin=False) + build_frame(OP_CONT, msg[10:]) +
                   build_frame(OP_CONT, b"fragment3", fin=False) + build_frame(OP_TEXT, b"fragment4"),
                   pong_first=t)

    def test_5_16_continuations_repeated(self):
        """Autobahn 5.16: continuation FIN=0, text FIN=0, continuation FIN=1,
        twice -> close 1002 at the first frame, no pong."""
        msg, _ = ping_of_size(40)
        seq = (build_frame(OP_CONT, b"fragment1", fin=False) + build_frame(OP_TEXT, msg[:10], fin=False) +
               build_frame(OP_CONT, msg[10:]))
        self._fail(seq * 2)

    def test_5_17_continuations_fin1_repeated(self):
        """Autobahn 5.17: continuation FIN=1, text FIN=0, continuation FIN=1,
        twice -> close 1002 at the first frame, no pong."""
        msg, _ = ping_of_size(40)
        seq = (build_frame(OP_CONT, b"fragment1") + build_frame(OP_TEXT, msg[:10], fin=False) +
               build_frame(OP_CONT, msg[10:]))
        self._fail(seq * 2)

    def test_5_18_text_while_fragmented(self):
        """Autobahn 5.18: text FIN=0, then a new text FIN=1 (not a
        continuation) -> close 1002, no pong."""
        msg, _ = ping_of_size(40)
        self._fail(build_frame(OP_TEXT, msg[:10], fin=False) + build_frame(OP_TEXT, msg))

    def test_5_18b_text_fin0_while_fragmented(self):
        """Autobahn 5.18 variant: text FIN=0, then a new text FIN=0 -> close 1002."""
        msg, _ = ping_of_size(40)
        self._fail(build_frame(OP_TEXT, msg[:10], fin=False) + build_frame(OP_TEXT, msg[10:], fin=False))

    def test_5_18c_binary_while_fragmented(self):
        """Autobahn 5.18 variant: text FIN=0, then a binary frame -> close 1002
        (a framing error, before any 1003 for the binary)."""
        msg, _ = ping_of_size(40)
        self._fail(build_frame(OP_TEXT, msg[:10], fin=False) + build_frame(OP_BINARY, b"\x01\x02"))

    def test_5_18d_text_while_fragmented_separate_writes(self):
        """Autobahn 5.18 variant: text FIN=0 then text FIN=1 in separate writes
        -> close 1002."""
        msg, _ = ping_of_size(40)
        self._fail(build_frame(OP_TEXT, msg[:10], fin=False) + build_frame(OP_TEXT, msg), splits=[16])

    def test_5_x_continuation_first_frame(self):
        """Autobahn 5.9 family: a continuation as the very first frame, empty,
        FIN=1 -> close 1002."""
        self._fail(build_frame(OP_CONT, b""))
