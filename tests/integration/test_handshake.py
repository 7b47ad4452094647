"""RFC 6455 opening handshake: accept value, header handling, refusals,
subprotocol, size and time limits, bytes pipelined after the head."""
import json
import socket
import time
import unittest

from tests.lib.rawhttp import Stream, connect, http_raw
from tests.lib.relayproc import Relay, RelayTestCase
from tests.lib.syncws import Client, ws_handshake, ws_open
from tests.lib.wire import OP_TEXT, Closed, accept_for, build_frame, upgrade_request


def tokens(value):
    return [t.strip().lower() for t in (value or "").split(",")]


class Handshake(RelayTestCase):

    def assert_101(self, ws):
        self.assertEqual(ws.status, 101, ws.headers)
        self.assertEqual(ws.header("upgrade").lower(), "websocket")
        self.assertIn("upgrade", tokens(ws.header("connection")))
        self.assertEqual(ws.header("sec-websocket-accept"), accept_for(ws.key))
        self.assertEqual(len(ws.headers.get("sec-websocket-accept")), 1)

    def test_basic_upgrade(self):
        with ws_handshake(self.port) as ws:
            self.assert_101(ws)
            self.assertIsNone(ws.header("sec-websocket-protocol"))
            self.assertIsNone(ws.header("sec-websocket-extensions"),
                              "no extension was offered, none may be accepted")
            reg = ws.recv_json()
            self.assertEqual(reg["handler"], "register2")

    def test_any_path(self):
        for path in ["/", "/chat", "/some/deep/path", "/x?room=1&y=2", "/index.html", "/healthz"]:
            with self.subTest(path=path):
                with ws_handshake(self.port, path) as ws:
                    self.assert_101(ws)
                    self.assertEqual(ws.recv_json()["handler"], "register2")

    def test_header_names_case_insensitive(self):
        req, key = upgrade_request(self.port, drop=("upgrade", "connection", "sec-websocket-key",
                                                    "sec-websocket-version"),
                                   headers={"uPgRaDe": "WebSocket", "connection": "Upgrade",
                                            "SEC-WEBSOCKET-KEY": "dGhlIHNhbXBsZSBub25jZQ==",
                                            "sec-websocket-version": "13"})
        with Stream(connect(self.port)) as s:
            s.send_raw(req)
            head = s.read_head()
            self.assertEqual(head.status, 101)
            # The RFC 6455 example key and its accept value.
            self.assertEqual(head.headers["sec-websocket-accept"][0], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_connection_token_list(self):
        for value in ["keep-alive, Upgrade", "Upgrade, keep-alive", "keep-alive,upgrade"]:
            with self.subTest(connection=value):
                with ws_handshake(self.port, headers={"Connection": value}) as ws:
                    self.assert_101(ws)
                    self.assertEqual(ws.recv_json()["handler"], "register2")

    def test_extension_offer_declined_or_handled(self):
        # Browsers offer permessage-deflate; the relay may decline by omission.
        with ws_handshake(self.port, headers={
                "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}) as ws:
            self.assert_101(ws)
            if ws.header("sec-websocket-extensions") is None:
                self.assertEqual(ws.recv_json()["handler"], "register2")

    def test_missing_key_400(self):
        with ws_handshake(self.port, drop=("sec-websocket-key",)) as ws:
            self.assertEqual(ws.status, 400)

    def test_bad_key_400(self):
        # The key must be base64 of 16 bytes.
        for key in ["short", "not base64 at all!!!!!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]:
            with self.subTest(key=key):
                with ws_handshake(self.port, headers={"Sec-WebSocket-Key": key}) as ws:
                    self.assertEqual(ws.status, 400, ws.headers)

    def test_wrong_version_426(self):
        for version in ["8", "12", "14"]:
            with self.subTest(version=version):
                with ws_handshake(self.port, headers={"Sec-WebSocket-Version": version}) as ws:
                    self.assertEqual(ws.status, 426)
                    self.assertIn("13", tokens(ws.header("sec-websocket-version")))

    def test_missing_version_refused(self):
        with ws_handshake(self.port, drop=("sec-websocket-version",)) as ws:
            self.assertIn(ws.status, (400, 426))

    def test_post_upgrade_refused(self):
        req, _ = upgrade_request(self.port)
        req = b"POST" + req[3:]
        try:
            r = http_raw(self.port, req)
        except Closed:
            return
        self.assertGreaterEqual(r.status, 400)

    def test_subprotocol_echoed(self):
        for offer in ["simpatico.v1", "foo, simpatico.v1", "simpatico.v1, foo", "foo,simpatico.v1"]:
            with self.subTest(offer=offer):
                with ws_handshake(self.port, headers={"Sec-WebSocket-Protocol": offer}) as ws:
                    self.assert_101(ws)
                    self.assertEqual(ws.headers.get("sec-websocket-protocol"), ["simpatico.v1"])
                    self.assertEqual(ws.recv_json()["handler"], "register2")

    def test_subprotocol_not_offered_no_header(self):
        for offer in [None, "foo", "chat, superchat"]:
            with self.subTest(offer=offer):
                headers = {"Sec-WebSocket-Protocol": offer} if offer else None
                with ws_handshake(self.port, headers=headers) as ws:
                    self.assert_101(ws)
                    self.assertIsNone(ws.header("sec-websocket-protocol"))

    def test_head_over_8k_431(self):
        with ws_handshake(self.port, headers={"X-Filler": "a" * 9000}) as ws:
            self.assertEqual(ws.status, 431)

    def test_head_over_8k_many_headers_431(self):
        headers = {f"X-F{i}": "b" * 90 for i in range(100)}
        with ws_handshake(self.port, headers=headers) as ws:
            self.assertEqual(ws.status, 431)

    def test_head_just_under_8k_ok(self):
        req, _ = upgrade_request(self.port)
        pad = 7 * 1024 - len(req)
        with ws_handshake(self.port, headers={"X-Filler": "c" * pad}) as ws:
            self.assert_101(ws)

    def test_plain_get_431_too(self):
        r = http_raw(self.port, b"GET /healthz HTTP/1.1\r\nX-Filler: " + b"d" * 9000 + b"\r\n\r\n")
        self.assertEqual(r.status, 431)

    def test_pipelined_frame_after_head(self):
        frame = build_frame(OP_TEXT, b'{"handler":"ping","t":1}')
        with ws_handshake(self.port, extra=frame) as ws:
            self.assert_101(ws)
            self.assertEqual(ws.recv_json()["handler"], "register2")
            pong = ws.recv_json()
            self.assertEqual(pong["handler"], "pong")
            self.assertEqual(pong["t"], 1)

    def test_pipelined_several_frames_after_head(self):
        frames = b"".join(build_frame(OP_TEXT, json.dumps({"handler": "ping", "t": i}).encode())
                          for i in range(10))
        with ws_handshake(self.port, extra=frames) as ws:
            self.assert_101(ws)
            self.assertEqual(ws.recv_json()["handler"], "register2")
            self.assertEqual([ws.recv_json()["t"] for _ in range(10)], list(range(10)))

    def test_head_in_tiny_pieces(self):
        req, key = upgrade_request(self.port)
        frame = build_frame(OP_TEXT, b'{"handler":"ping","t":"slow"}')
        with Client(connect(self.port)) as ws:
            ws.send_raw(req + frame, chunk=7, delay=0.002)
            self.assertEqual(ws.read_head().status, 101)
            self.assertEqual(ws.recv_json()["handler"], "register2")
            self.assertEqual(ws.recv_json()["t"], "slow")

    def test_server_frames_are_well_formed(self):
        ws, reg = ws_open(self.port)
        with ws:
            # recv_frame asserts unmasked, no RSV; close reply carries the code.
            self.assertEqual(ws.close(1000), 1000)
            self.assertTrue(ws.wait_eof(5), "server did not end TCP after the close exchange")

    def test_unmasked_client_frame_closes(self):
        ws, _ = ws_open(self.port)
        with ws:
            ws.send_frame(OP_TEXT, b'{"handler":"ping","t":1}', mask=False)
            code = ws.recv_close(5)
            self.assertIn(code, (1002, "eof"))

    def test_reserved_bits_close_1002(self):
        ws, _ = ws_open(self.port)
        with ws:
            ws.send_frame(OP_TEXT, b'{"handler":"ping","t":1}', rsv=4)
            self.assertIn(ws.recv_close(5), (1002, "eof"))

    def test_reserved_opcode_close_1002(self):
        ws, _ = ws_open(self.port)
        with ws:
            ws.send_frame(0x3, b"x")
            self.assertIn(ws.recv_close(5), (1002, "eof"))


class HandshakeTimeout(unittest.TestCase):
    def test_incomplete_head_closed(self):
        with Relay("--handshake-timeout", "1") as relay:
            s = connect(relay.port, timeout=6)
            with s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
                t0 = time.monotonic()
                s.settimeout(6)
                try:
                    for _ in range(1000):
                        if not s.recv(4096):
                            break
                except ConnectionResetError:
                    pass
                except socket.timeout:
                    self.fail("server kept a half request open for 6 s with --handshake-timeout 1")
                elapsed = time.monotonic() - t0
            self.assertGreater(elapsed, 0.5, "closed before the handshake timeout")
            self.assertLess(elapsed, 3.0)

    def test_idle_connection_closed(self):
        # Connected, nothing sent at all.
        with Relay("--handshake-timeout", "1") as relay:
            s = connect(relay.port, timeout=6)
            with s:
                t0 = time.monotonic()
                try:
                    for _ in range(1000):
                        if not s.recv(4096):
                            break
                except ConnectionResetError:
                    pass
                except socket.timeout:
                    self.fail("idle connection kept open for 6 s with --handshake-timeout 1")
                elapsed = time.monotonic() - t0
            self.assertLess(elapsed, 3.0)

    def test_completed_handshake_not_cut_by_handshake_timeout(self):
        with Relay("--handshake-timeout", "1") as relay:
            ws, _ = ws_open(relay.port)
            with ws:
                time.sleep(2.0)
                pong = ws.request({"handler": "ping", "t": 7})
                self.assertEqual(pong["handler"], "pong")
