"""SIGHUP: the config file read again and the reloadable settings applied
without a restart, each seen to take effect; a bad file changes nothing;
a setting that needs a restart is reported and left as it was."""
import json
import os
import socket
import tempfile
import time
import unittest

from tests.lib.relayproc import READY, Relay
from tests.lib.rawhttp import connect, http_get
from tests.lib.syncws import ws_handshake, ws_open
from tests.lib.wire import OP_PING, Closed, Timeout


class Reload(unittest.TestCase):
    def start(self, settings, metrics=False):
        """A relay reading its settings from a file (log level info, from
        the file: no --log-level flag, which would win over it)."""
        f = tempfile.NamedTemporaryFile("w", prefix="reflector-", suffix=".conf", delete=False)
        self.addCleanup(os.unlink, f.name)
        self.path = f.name
        self.write(settings)
        relay = Relay("--config", self.path, log_level=None, metrics=metrics, wait=False)
        self.addCleanup(relay.cleanup)
        self.addCleanup(lambda: relay.__exit__(None, None, None) if relay.alive() else None)
        # Ready once it logs its start line (at info, from the file): a
        # probing connection would show in the counters and debug lines,
        # and the listeners exist before the shards and the metrics run.
        deadline = time.monotonic() + 10
        while not READY.search(relay.output()):
            self.assertTrue(relay.alive() and time.monotonic() < deadline, relay.output())
            time.sleep(0.02)
        return relay

    def write(self, settings):
        with open(self.path, "w") as f:
            f.write("log-level = info\n" + settings)

    def reload(self, relay, settings):
        self.write(settings)
        line = relay.reload()
        self.assertIn("reload done", line)
        return line

    def test_max_conns_lowered_refuses_new_connections(self):
        relay = self.start("max-conns = 100\n")
        a, _ = ws_open(relay.port)
        b, _ = ws_open(relay.port)
        self.reload(relay, "max-conns = 2\n")
        self.assertTrue(relay.log_lines(r"reload: --max-conns 100 -> 2"), relay.output())
        self.assertEqual(http_get(relay.port, "/healthz").status, 503)
        self.reload(relay, "max-conns = 100\n")
        self.assertEqual(http_get(relay.port, "/healthz").status, 200)
        a.close()
        b.close()

    def test_max_conns_per_ip_set_counts_the_open_connections(self):
        relay = self.start("max-conns-per-ip = 0\n")
        a, _ = ws_open(relay.port)
        b, _ = ws_open(relay.port)
        self.assertEqual(http_get(relay.port, "/healthz").status, 200)
        self.reload(relay, "max-conns-per-ip = 2\n")
        c = ws_handshake(relay.port)
        self.assertEqual(c.status, 503)
        c.abort()
        a.close()
        b.close()

    def test_handshake_timeout(self):
        relay = self.start("handshake-timeout = 30\n")
        with connect(relay.port) as s:
            time.sleep(1.5)
            s.settimeout(0.1)
            with self.assertRaises(socket.timeout):
                s.recv(1)  # still open: 30 s
        self.reload(relay, "handshake-timeout = 1\n")
        with connect(relay.port) as s:
            s.settimeout(4)
            t0 = time.monotonic()
            try:
                data = s.recv(1)
            except ConnectionResetError:
                data = b""
            self.assertEqual(data, b"")
            self.assertLess(time.monotonic() - t0, 3.5)

    def test_ping_interval(self):
        relay = self.start("ping-interval = 60\n")
        c, _ = ws_open(relay.port)
        with self.assertRaises(Timeout):
            c.recv_frame(timeout=1.5, skip_pings=False)
        self.reload(relay, "ping-interval = 1\n")
        f = c.recv_frame(timeout=3, skip_pings=False)
        self.assertEqual(f.opcode, OP_PING)
        c.close()

    def test_register_timeout(self):
        relay = self.start("register-timeout = 60\n")
        self.reload(relay, "register-timeout = 1\n")
        c, _ = ws_open(relay.port)
        t0 = time.monotonic()
        msg = c.recv_json(timeout=4)
        self.assertEqual((msg.get("handler"), msg.get("error")), ("register4", "TIMEOUT"), msg)
        self.assertEqual(c.recv_close(timeout=3), 1008)
        self.assertLess(time.monotonic() - t0, 3.5)

    def test_drain_timeout(self):
        relay = self.start("drain-timeout = 30\n")
        c, _ = ws_open(relay.port)  # never answers the close 1001
        self.reload(relay, "drain-timeout = 1\n")
        t0 = time.monotonic()
        self.assertEqual(relay.stop(), 0)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertTrue(relay.log_lines(r"connections closed over 1s"), relay.output())
        c.abort()

    def flood_until_dropped(self, relay, wait):
        """A client that never reads sends JSON pings (at most 8 MiB); True
        when the relay dropped it as a slow consumer within `wait` s."""
        before = relay.scrape().value("reflector_slow_consumers_total")
        c, _ = ws_open(relay.port)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.sock.settimeout(0.5)
        frame_text = json.dumps({"handler": "ping", "t": "q" * 1000})
        from tests.lib.wire import build_frame, OP_TEXT
        batch = build_frame(OP_TEXT, frame_text.encode()) * 64
        sent = 0
        try:
            while sent < 8 << 20:
                c.sock.sendall(batch)
                sent += len(batch)
        except (socket.timeout, OSError):
            pass  # the relay stopped reading, or dropped us
        deadline = time.monotonic() + wait
        dropped = False
        while time.monotonic() < deadline and not dropped:
            dropped = relay.scrape().value("reflector_slow_consumers_total") > before
            time.sleep(0.1)
        c.abort()
        return dropped

    def test_max_queued_and_slow_consumer_timeout(self):
        relay = self.start("max-queued = 1048576\nslow-consumer-timeout = 60\n", metrics=True)
        self.assertFalse(self.flood_until_dropped(relay, 2.5))
        self.reload(relay, "max-queued = 4096\nslow-consumer-timeout = 1\n")
        self.assertTrue(self.flood_until_dropped(relay, 5))
        self.assertGreaterEqual(relay.scrape().value("reflector_reads_paused_total"), 1)

    def test_log_level(self):
        relay = self.start("")
        ws_open(relay.port)[0].close()
        self.assertEqual(relay.log_lines(r"debug accepted a connection"), [])
        self.reload(relay, "log-level = debug\n")
        c, _ = ws_open(relay.port)
        c.close()
        time.sleep(0.3)
        lines = relay.log_lines(r" debug accepted a connection conn=\d+ addr=127\.0\.0\.1:\d+$")
        self.assertEqual(len(lines), 1, relay.output())
        self.assertTrue(relay.log_lines(r" debug WebSocket open conn=\d+$"), relay.output())
        self.reload(relay, "log-level = info\n")
        ws_open(relay.port)[0].close()
        time.sleep(0.3)
        self.assertEqual(len(relay.log_lines(r" debug accepted a connection")), 1)

    def test_log_format(self):
        relay = self.start("")
        line = self.reload(relay, "log-format = json\nmax-conns = 1\n")
        done = json.loads(line)
        self.assertEqual(done["event"], "reload_done")
        self.assertEqual(done["level"], "info")
        self.assertIsNone(done["shard"])
        self.assertEqual(done["generation"], 1)
        self.assertRegex(done["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        a, _ = ws_open(relay.port)
        self.assertEqual(http_get(relay.port, "/healthz").status, 503)
        time.sleep(0.2)
        refused = [json.loads(ln) for ln in relay.log_lines(r'"event":"conn_refused"')]
        self.assertEqual(len(refused), 1, relay.output())
        self.assertEqual(refused[0]["level"], "warn")
        self.assertIn(refused[0]["shard"], (0, 1))
        self.assertIn("--max-conns 1 reached", refused[0]["msg"])
        a.close()

    def test_a_bad_file_changes_nothing(self):
        relay = self.start("max-conns = 2\n", metrics=True)
        a, _ = ws_open(relay.port)
        self.write("max-conns = 100\nrate = abc\n")
        line = relay.reload()
        self.assertIn("reload refused, nothing changed", line)
        self.assertIn("%s:3: bad value for rate: 'abc'" % self.path, line)  # line 1 is log-level
        b, _ = ws_open(relay.port)
        self.assertEqual(http_get(relay.port, "/healthz").status, 503)  # still 2
        m = relay.scrape()
        self.assertEqual(m.value("reflector_config_reloads_total", result="failure"), 1)
        self.assertEqual(m.value("reflector_config_reloads_total", result="success"), 0)
        self.assertEqual(m.value("reflector_config_last_reload_successful"), 0)
        a.close()
        b.close()

    def test_a_missing_file_changes_nothing(self):
        relay = self.start("max-conns = 2\n")
        os.unlink(self.path)
        self.addCleanup(lambda: open(self.path, "w").close())
        line = relay.reload()
        self.assertIn("reload refused, nothing changed: cannot read the config file", line)

    def test_settings_that_need_a_restart_are_reported_and_kept(self):
        relay = self.start("max-message = 4096\n")
        line = self.reload(relay, "max-message = 100\ncrypto-threads = 1\nmax-conns = 50\n")
        self.assertIn("1 settings changed, 2 ignored until a restart", line)
        self.assertTrue(relay.log_lines(r"warn reload: --max-message 4096 -> 100 ignored until a restart"))
        self.assertTrue(relay.log_lines(r"warn reload: --crypto-threads \d+ -> 1 ignored until a restart"))
        # A message of 200 bytes is still taken: max-message is still 4096.
        c, _ = ws_open(relay.port)
        pong = c.request({"handler": "ping", "t": "x" * 200})
        self.assertEqual(pong.get("handler"), "pong")
        c.close()


if __name__ == "__main__":
    unittest.main()
