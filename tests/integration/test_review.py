"""Item 8 of the attack review (the small ones), each named after it:
a Sec-WebSocket-Key with whitespace after it, a 431 that says what was too
long, and proof results still queued at exit (LeakSanitizer, in the ASan
run). The item's per-IP seed is tests/unit/test_relay_ip_limit.c."""
import json
import os
import threading
import time
import unittest

from tests.lib.asyncws import bounded_gather, close_writer, connect, handshake, read_text, run_async
from tests.lib.rawhttp import http_raw
from tests.lib.relayproc import ROOT, Relay, known_flags
from tests.lib.syncws import ws_handshake
from tests.lib.wire import OP_TEXT, accept_for, build_frame, new_key

VECTORS = os.path.join(os.environ.get("SHARED", os.path.join(ROOT, "..", "shared")), "vectors",
                       "registration.json")


class Item8SmallOnes(unittest.TestCase):
    def test_item8_a_key_with_whitespace_after_it_is_accepted(self):
        with Relay() as relay:
            for pad in (" ", "   ", "\t", " \t "):
                key = new_key()
                ws = ws_handshake(relay.port, headers={"Sec-WebSocket-Key": key + pad})
                try:
                    self.assertEqual(ws.status, 101, repr(pad))
                    self.assertEqual(ws.header("Sec-WebSocket-Accept"), accept_for(key))
                finally:
                    ws.abort()

    def test_item8_a_431_says_which_header_was_too_long(self):
        with Relay() as relay:
            for name in ("Sec-WebSocket-Key", "Upgrade", "Sec-WebSocket-Protocol"):
                req = ("GET / HTTP/1.1\r\nHost: x\r\n%s: %s\r\n\r\n" % (name, "a" * 300)).encode()
                r = http_raw(relay.port, req)
                self.assertEqual(r.status, 431, name)
                self.assertIn(("%s header over 255 bytes" % name).encode(), r.body)
            r = http_raw(relay.port, b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(r.status, 431)
            self.assertIn(b"request target over 2047 bytes", r.body)
            r = http_raw(relay.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Filler: " + b"b" * 9000 + b"\r\n\r\n")
            self.assertEqual(r.status, 431)
            self.assertIn(b"request head over 8192 bytes", r.body)

    def test_item8_proof_results_queued_at_exit_are_freed(self):
        """Registrations in flight when the relay stops: their results land
        in stopped shards' mailboxes and must be freed, not leaked (the
        ASan run's LeakSanitizer fails the test through the Relay)."""
        with open(VECTORS) as f:
            case = json.load(f)["cases"][0]["response"]
        pem, sig = case["publicKey"], case["publicKeySig"]
        relay = Relay("--crypto-threads", "2",
                      *known_flags("--max-registrations-per-ip", "0", "--registration-rate-per-ip", "0"),
                      drain_timeout=0, log_level="info")
        try:
            async def one():
                reader, writer = await connect(relay.port)
                try:
                    await handshake(reader, writer, relay.port)
                    r2 = await read_text(reader, 10)
                    clear = json.dumps({"t1": r2["t1"], "t2": r2["t1"] + 3, "dt": 3})
                    msg = {"handler": "register3", "clearText": clear, "cypherText": os.urandom(48).hex(),
                           "publicKeySig": sig, "publicKey": pem}
                    writer.write(build_frame(OP_TEXT, json.dumps(msg).encode()))
                    await writer.drain()
                    await asyncio_sleep(2)
                finally:
                    close_writer(writer)

            t = threading.Thread(target=lambda: run_async(bounded_gather([one() for _ in range(200)], 200), 30),
                                 daemon=True)
            t.start()
            time.sleep(0.8)  # the proofs are queued and computing
            self.assertEqual(relay.stop(), 0)
            t.join(30)
        finally:
            relay.stop()
        self.assertIsNone(relay.sanitizer_report())


async def asyncio_sleep(s):
    import asyncio
    await asyncio.sleep(s)
