"""Plain HTTP without a web root: /healthz, 404 for everything else, and the
relay surviving malformed requests."""
import socket
import time
import unittest

from tests.lib.rawhttp import connect, http_get, http_raw
from tests.lib.relayproc import Relay, RelayTestCase
from tests.lib.syncws import ws_open
from tests.lib.wire import OP_TEXT, build_frame, upgrade_request


class Http(RelayTestCase):

    def test_healthz(self):
        r = http_get(self.port, "/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.body.startswith(b"ok"), r.body)
        cl = r.header("content-length")
        if cl is not None:
            self.assertEqual(int(cl), len(r.body))

    def test_response_is_http_1_1(self):
        with connect(self.port) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            first = s.recv(12)
        self.assertTrue(first.startswith(b"HTTP/1.1 200"), first)

    def test_healthz_http_1_0(self):
        r = http_raw(self.port, b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.body.startswith(b"ok"), r.body)

    def test_healthz_with_query(self):
        r = http_get(self.port, "/healthz?probe=1")
        self.assertEqual(r.status, 200, r)

    def test_other_paths_404_without_www(self):
        for path in ["/", "/index.html", "/healthz/x", "/health", "/app.js", "/../etc/passwd",
                     "/%2e%2e/etc/passwd"]:
            with self.subTest(path=path):
                r = http_get(self.port, path)
                self.assertEqual(r.status, 404, r)

    def test_malformed_requests_do_not_hurt_the_relay(self):
        bad = [b"GARBAGE\r\n\r\n", b"\x00\x01\x02\x03\r\n\r\n", b"GET\r\n\r\n",
               b"GET / HTTP/9.9\r\n\r\n", b"GET / HTTP/1.1\r\nNoColonHere\r\n\r\n",
               b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
               b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]
        for req in bad:
            with self.subTest(req=req):
                with connect(self.port, timeout=5) as s:
                    try:
                        s.sendall(req)
                        s.settimeout(5)
                        data = s.recv(4096)
                    except OSError:
                        data = b""
                    # A 4xx answer or a close; never a 2xx, and the relay stays up.
                    if data:
                        self.assertRegex(data[:12], rb"^HTTP/1\.[01] [45]\d\d", data[:100])
        r = http_get(self.port, "/healthz")
        self.assertEqual(r.status, 200)
        ws, _ = ws_open(self.port)
        ws.abort()

    def test_client_closing_early_does_not_hurt_the_relay(self):
        for _ in range(20):
            s = connect(self.port)
            s.sendall(b"GET /heal")
            s.close()
        r = http_get(self.port, "/healthz")
        self.assertEqual(r.status, 200)


class HalfClosedClients(unittest.TestCase):
    """A client that shuts down its sending side after its request (as
    `printf ... | nc` does) still gets the whole answer."""

    def half_closed_exchange(self, port, data, timeout=5.0):
        s = connect(port, timeout)
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    return got
                got += chunk
            self.fail("the relay did not close after answering")
        finally:
            s.close()

    def test_healthz_then_half_close(self):
        with Relay() as relay:
            got = self.half_closed_exchange(relay.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got)
            self.assertTrue(got.endswith(b"\r\n\r\nok\n"), got)

    def test_websocket_ping_then_half_close(self):
        frame = build_frame(OP_TEXT, b'{"handler":"ping","t":"half"}')
        with Relay() as relay:
            head, _ = upgrade_request(relay.port)
            got = self.half_closed_exchange(relay.port, head + frame)
            self.assertIn(b"101 Switching Protocols", got)
            self.assertIn(b'"handler":"register2"', got)
            self.assertIn(b'{"handler":"pong","t":"half"', got)
