"""Application messages before registration: register2, ping/pong, errors;
and message framing (fragments, control frames, UTF-8, binary)."""
import json
import time
import unittest

from tests.lib.relayproc import Relay, RelayTestCase
from tests.lib.syncws import ws_open
from tests.lib.wire import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, build_frame

SIG = "A" * 42 + "w"  # 43 chars of the base64url alphabet
SIG2 = "b" * 21 + "-_" + "c" * 20


def now_ms():
    return int(time.time() * 1000)


class Register2(unittest.TestCase):
    def test_register2_shape(self):
        with Relay() as relay:
            before = now_ms()
            ws, reg = ws_open(relay.port)
            after = now_ms()
            with ws:
                self.assertEqual(set(reg), {"handler", "publicKeyPem", "t1"})
                pem = reg["publicKeyPem"]
                self.assertTrue(pem.startswith("-----BEGIN PUBLIC KEY-----\n"), pem)
                self.assertIn("-----END PUBLIC KEY-----", pem)
                self.assertIsInstance(reg["t1"], int)
                self.assertFalse(isinstance(reg["t1"], bool))
                self.assertGreaterEqual(reg["t1"], before - 1000)
                self.assertLessEqual(reg["t1"], after + 1000)
                # The same server key on every connection.
                ws2, reg2 = ws_open(relay.port)
                ws2.abort()
                self.assertEqual(reg2["publicKeyPem"], pem)

    def test_t1_distinct_across_200_connections_on_4_shards(self):
        with Relay(threads=4) as relay:
            start = now_ms()
            conns, t1s = [], []
            try:
                for _ in range(200):
                    ws, reg = ws_open(relay.port)
                    conns.append(ws)
                    t1s.append(reg["t1"])
            finally:
                for ws in conns:
                    ws.abort()
            end = now_ms()
            self.assertEqual(len(set(t1s)), 200, "t1 reused across connections")
            self.assertTrue(all(isinstance(t, int) for t in t1s))
            self.assertGreaterEqual(min(t1s), start - 1000)
            # Strictly increasing per issue may run ahead of the clock by at
            # most one ms per connection.
            self.assertLessEqual(max(t1s), end + 200 + 1000)

    def test_t1_increases_for_sequential_connections(self):
        with Relay(threads=4) as relay:
            prev = None
            for _ in range(30):
                ws, reg = ws_open(relay.port)
                ws.abort()
                if prev is not None:
                    self.assertGreater(reg["t1"], prev)
                prev = reg["t1"]


class Messages(RelayTestCase):

    def setUp(self):
        self.ws, _ = ws_open(self.port)

    def tearDown(self):
        self.ws.abort()

    def assert_alive(self, t="alive"):
        pong = self.ws.request({"handler": "ping", "t": t})
        self.assertEqual(pong["handler"], "pong")
        self.assertEqual(pong["t"], t)

    def test_ping_pong(self):
        before = now_ms()
        pong = self.ws.request({"handler": "ping", "t": 1})
        after = now_ms()
        self.assertEqual(pong["handler"], "pong")
        self.assertEqual(pong["t"], 1)
        self.assertIsInstance(pong["serverTime"], int)
        self.assertGreaterEqual(pong["serverTime"], before - 1000)
        self.assertLessEqual(pong["serverTime"], after + 1000)

    def test_ping_t_any_json_value(self):
        values = [0, -5, 1.5, 12345678901234, "str", "", "ünï\u2603", None, True, False, [1, "a"],
                  {"a": {"b": [1, 2, {"c": None}]}}, "\"quoted\\slash\""]
        for t in values:
            with self.subTest(t=t):
                pong = self.ws.request({"handler": "ping", "t": t})
                self.assertEqual(pong["handler"], "pong")
                self.assertEqual(pong["t"], t)

    def test_ping_key_order_and_whitespace(self):
        pong = self.ws.request('  { "t" : 42 ,\n "handler" : "ping" }  ')
        self.assertEqual(pong["handler"], "pong")
        self.assertEqual(pong["t"], 42)

    def test_many_pings_in_one_write_answered_in_order(self):
        data = b"".join(build_frame(OP_TEXT, json.dumps({"handler": "ping", "t": i}).encode())
                        for i in range(100))
        self.ws.send_raw(data)
        got = [self.ws.recv_json()["t"] for _ in range(100)]
        self.assertEqual(got, list(range(100)))

    def test_bad_json(self):
        for text in ["not json", "{", '{"handler":"ping",}', "", "{}}", "nul", '{"handler":"ping" "t":1}']:
            with self.subTest(text=text):
                err = self.ws.request(text)
                self.assertEqual(err, {"handler": "error", "error": "BAD_JSON"})
        self.assert_alive()

    def test_json_not_an_object(self):
        for text in ["[1,2]", '"ping"', "42", "null", "true"]:
            with self.subTest(text=text):
                err = self.ws.request(text)
                self.assertEqual(err["handler"], "error")
                self.assertEqual(err["error"], "BAD_JSON")
        self.assert_alive()

    def test_unknown_handler(self):
        for msg in [{"handler": "nope"}, {"handler": "PING", "t": 1}, {"handler": "Ping", "t": 1},
                    {"handler": ""}, {"handler": "deliverEnvelope"}]:
            with self.subTest(msg=msg):
                err = self.ws.request(msg)
                self.assertEqual(err, {"handler": "error", "error": "UNKNOWN_HANDLER"})
        self.assert_alive()

    def test_deliver_envelop_not_registered(self):
        env = {"handler": "deliverEnvelop", "from": SIG, "to": SIG2, "box": "00ff" * 8, "id": 17}
        err = self.ws.request(env)
        self.assertEqual(err["handler"], "error")
        self.assertEqual(err["error"], "NOT_REGISTERED")
        self.assertTrue(set(err) <= {"handler", "error", "to", "id"}, err)
        if "to" in err:
            self.assertEqual(err["to"], SIG2)
        if "id" in err:
            self.assertEqual(err["id"], 17)
        self.assert_alive()

    def test_invite3_not_registered(self):
        err = self.ws.request({"handler": "invite3", "publicKeySig": SIG})
        self.assertEqual(err, {"handler": "error", "error": "NOT_REGISTERED"})
        self.assert_alive()

    def test_errors_keep_connection_open(self):
        for text in ["x", '{"handler":"zzz"}', json.dumps({"handler": "invite3", "publicKeySig": SIG})]:
            self.ws.request(text)
        self.assert_alive()

    def test_fragmented_text_message(self):
        msg = b'{"handler":"ping","t":"frag"}'
        self.ws.send_frame(OP_TEXT, msg[:5], fin=False)
        self.ws.send_frame(OP_CONT, msg[5:12], fin=False)
        self.ws.send_frame(OP_CONT, msg[12:], fin=True)
        self.assertEqual(self.ws.recv_json()["t"], "frag")

    def test_fragment_split_inside_utf8_char(self):
        msg = '{"handler":"ping","t":"\u2603"}'.encode()
        cut = msg.index(b"\xe2") + 1
        self.ws.send_frame(OP_TEXT, msg[:cut], fin=False)
        self.ws.send_frame(OP_CONT, msg[cut:], fin=True)
        self.assertEqual(self.ws.recv_json()["t"], "\u2603")

    def test_control_frame_between_fragments(self):
        msg = b'{"handler":"ping","t":"mid"}'
        self.ws.send_frame(OP_TEXT, msg[:10], fin=False)
        self.ws.send_frame(OP_PING, b"hello")
        self.ws.send_frame(OP_CONT, msg[10:], fin=True)
        f = self.ws.recv_frame(skip_pings=False)
        self.assertEqual((f.opcode, f.payload), (OP_PONG, b"hello"))
        self.assertEqual(self.ws.recv_json()["t"], "mid")

    def test_websocket_ping_gets_pong(self):
        self.ws.send_frame(OP_PING, b"payload-123")
        f = self.ws.recv_frame(skip_pings=False)
        self.assertEqual((f.fin, f.opcode, f.payload), (True, OP_PONG, b"payload-123"))
        self.ws.send_frame(OP_PING, b"")
        f = self.ws.recv_frame(skip_pings=False)
        self.assertEqual((f.opcode, f.payload), (OP_PONG, b""))

    def test_unsolicited_pong_ignored(self):
        self.ws.send_frame(OP_PONG, b"x")
        self.assert_alive()

    def test_binary_message_close_1003(self):
        self.ws.send_frame(OP_BINARY, b'{"handler":"ping","t":1}')
        self.assertEqual(self.ws.recv_close(5), 1003)

    def test_invalid_utf8_close_1007(self):
        self.ws.send_frame(OP_TEXT, b'{"handler":"ping","t":"\xff\xfe"}')
        self.assertEqual(self.ws.recv_close(5), 1007)

    def test_invalid_utf8_across_fragments_close_1007(self):
        self.ws.send_frame(OP_TEXT, b'{"handler":"ping","t":"\xe2', fin=False)
        self.ws.send_frame(OP_CONT, b'A"}', fin=True)
        self.assertEqual(self.ws.recv_close(5), 1007)

    def test_continuation_without_start_close_1002(self):
        self.ws.send_frame(OP_CONT, b"abc")
        self.assertIn(self.ws.recv_close(5), (1002, "eof"))

    def test_fragmented_control_frame_close_1002(self):
        self.ws.send_frame(OP_PING, b"abc", fin=False)
        self.assertIn(self.ws.recv_close(5), (1002, "eof"))

    def test_client_close_echoed(self):
        self.assertEqual(self.ws.close(1000), 1000)
        self.assertTrue(self.ws.wait_eof(5))

    def test_client_close_other_code_echoed(self):
        self.assertEqual(self.ws.close(4001), 4001)

    def test_client_close_without_code(self):
        self.ws.send_frame(OP_CLOSE, b"")
        code = self.ws.recv_close(5, reply=False)
        self.assertIn(code, (None, 1000))
