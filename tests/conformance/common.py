"""Shared pieces of the conformance suite: one relay per TestCase class, a
connect() that does the handshake and checks the server's register2, and the
"echo": the relay is not an echo server, so a text message of N bytes is a
`{"handler":"ping","t":"<padding>"}` of exactly N bytes, answered by
`{"handler":"pong","t":<the same bytes>,"serverTime":<int>}`.
"""
import itertools
import json
import time

from tests.lib.rawhttp import DEFAULT_TIMEOUT
from tests.lib.relayproc import RelayTestCase
from tests.lib.syncws import ws_connect
from tests.lib.wire import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,  # noqa: F401  (re-exported)
                            build_frame, close_payload)  # noqa: F401

PREFIX = b'{"handler":"ping","t":"'
SUFFIX = b'"}'
MIN_PING = len(PREFIX) + len(SUFFIX)          # 25: the smallest ping with a string t
BIG = 1048576                                 # --max-message of the "large" relays
BIG_ARGS = ("--max-message", str(BIG))
FILL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
CASE_BUDGET = 10.0     # seconds of network waiting one test case may use in all
_seq = itertools.count(1)


def ping_msg(raw):
    """(message bytes, t as JSON bytes) for a ping whose t is the string with
    the raw (already JSON-safe) bytes `raw`."""
    return PREFIX + raw + SUFFIX, b'"' + raw + b'"'


def ping_of_size(n):
    """A ping message of exactly n >= 25 bytes; t is a patterned ASCII string
    starting with a unique number, so misordered or corrupted bytes show."""
    assert n >= MIN_PING, n
    pad = n - MIN_PING
    tag = b"%d:" % next(_seq)
    body = (tag + FILL * (pad // len(FILL) + 1))[:pad]
    return ping_msg(body)


def json_raw_value(payload, key):
    """The raw bytes of the value of the first `"key":` in a JSON object."""
    k = b'"' + key.encode() + b'"'
    i = payload.find(k)
    if i < 0:
        return None
    i += len(k)
    ws = b" \t\r\n"
    while i < len(payload) and payload[i] in ws:
        i += 1
    if i >= len(payload) or payload[i:i + 1] != b":":
        return None
    i += 1
    while i < len(payload) and payload[i] in ws:
        i += 1
    return i


class RelayCase(RelayTestCase):
    """One relay process per class (RELAY_ARGS are its extra flags); each
    case has CASE_BUDGET seconds of network waiting in all."""

    def setUp(self):
        self.budget_end = time.monotonic() + CASE_BUDGET
        if self.relay.proc.poll() is not None:
            self.fail("relay exited with %s:\n%s" % (self.relay.proc.returncode, self.relay.output()))

    # -- connections ------------------------------------------------------
    def connect(self, timeout=DEFAULT_TIMEOUT):
        """Handshake, then read and check the server's first message."""
        c = ws_connect(self.port, timeout=timeout, hard_deadline=self.budget_end)
        self.addCleanup(c.abort)
        f = c.recv_frame()
        self.assertEqual(f.opcode, OP_TEXT, "first server message must be text: %r" % f)
        msg = json.loads(f.payload.decode("utf-8"))
        self.assertEqual(msg.get("handler"), "register2", msg)
        self.assertIsInstance(msg.get("publicKeyPem"), str, msg)
        self.assertIn("PUBLIC KEY", msg["publicKeyPem"])
        self.assertIs(type(msg.get("t1")), int, msg)
        return c

    # -- expectations -----------------------------------------------------
    def checkPong(self, f, t_json):
        """f is the relay's pong for a ping whose t was t_json (raw bytes)."""
        self.assertEqual(f.opcode, OP_TEXT, "expected a pong text message, got %r" % f)
        try:
            msg = json.loads(f.payload.decode("utf-8"))
        except ValueError as e:
            self.fail("pong is not JSON (%s): %r" % (e, f))
        self.assertEqual(msg.get("handler"), "pong", "expected a pong, got %r" % f)
        self.assertIs(type(msg.get("serverTime")), int, "serverTime: %r" % f)
        i = json_raw_value(f.payload, "t")
        self.assertIsNotNone(i, "no t in %r" % f)
        got = f.payload[i:i + len(t_json)]
        if got != t_json:
            self.fail("t not byte-identical (%d bytes sent): sent %r..., got %r..." % (
                len(t_json), t_json[:80], f.payload[i:i + 80]))
        rest = f.payload[i + len(t_json):].lstrip()
        self.assertIn(rest[:1], (b",", b"}"), "t value longer than sent: %r" % f)
        return msg

    def assertPong(self, c, t_json, timeout=None):
        f = c.recv_frame(timeout=timeout)
        return self.checkPong(f, t_json)

    def assertWsPong(self, c, payload, timeout=None):
        f = c.recv_frame(timeout=timeout)
        self.assertEqual(f.opcode, OP_PONG, "expected a WebSocket pong, got %r" % f)
        self.assertEqual(f.payload, payload, "pong payload differs from ping payload")

    def assertError(self, c, code, timeout=None):
        f = c.recv_frame(timeout=timeout)
        self.assertEqual(f.opcode, OP_TEXT, "expected an error message, got %r" % f)
        msg = json.loads(f.payload.decode("utf-8"))
        self.assertEqual(msg.get("handler"), "error", msg)
        self.assertEqual(msg.get("error"), code, msg)
        return msg

    def assertClose(self, c, codes, allow=None, timeout=None):
        """The server sends close with one of `codes` (an int, None for an
        empty payload, or a tuple), then closes TCP. Returns the reason."""
        if not isinstance(codes, tuple):
            codes = (codes,)
        code, reason = c.expect_close(timeout=timeout, allow=allow)
        self.assertIn(code, codes, "close code %r, expected %r (reason %r)" % (code, codes, reason))
        try:
            reason.decode("utf-8")
        except UnicodeDecodeError:
            self.fail("server close reason is not UTF-8: %r" % reason)
        return reason

    def assertOpen(self, c):
        """The connection still works: a small ping round-trips."""
        msg, t = ping_of_size(40)
        c.send_text(msg)
        self.assertPong(c, t)

    def roundtrip(self, c, n):
        msg, t = ping_of_size(n)
        c.send_text(msg)
        self.assertPong(c, t)


def allow_any_pong(f):
    """For expect_close: replies to data sent before the close may come."""
    return f.opcode == OP_PONG or f.opcode == OP_TEXT
