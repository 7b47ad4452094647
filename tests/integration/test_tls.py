"""TLS on the listener (--tls-cert, --tls-key): wss:// with
python3-websockets, https:// static files, and openssl s_client refused
what the relay does not offer (TLS 1.0/1.1, suites without ECDHE and an
AEAD, renegotiation); session tickets resume; garbage, oversize records
and a handshake that stalls are closed and counted; a reload swaps the
certificate for new connections only, and a mismatched pair changes
nothing. The certificates come from a CA the test makes with openssl."""
import asyncio
import hashlib
import json
import os
import shutil
import socket
import ssl
import sys
import subprocess
import tempfile
import time
import unittest
import urllib.request
from datetime import datetime

import websockets

from tests.lib.relayproc import Relay, run_cli
from tests.lib.testca import TestCA


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def client_context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    return ctx


def s_client(port, ca, *args, stdin=b"", timeout=10):
    """openssl s_client's output (stdout and stderr) for one connection."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", ca,
                        "-servername", "localhost", *args],
                       input=stdin, capture_output=True, timeout=timeout)
    return (p.stdout + p.stderr).decode(errors="replace")


def peer_fingerprint(port, ca):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with client_context(ca).wrap_socket(raw, server_hostname="localhost") as s:
            return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(cert):
    der = ssl.PEM_cert_to_DER_cert(open(cert).read())
    return hashlib.sha256(der).hexdigest()


def closed_within(sock, seconds):
    """Reads until EOF or a reset; the seconds it took, or None if the
    socket stays open that long."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if not sock.recv(4096):
                return time.monotonic() - start
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
    return None


class TlsListener(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ca = TestCA()
        cls.cert, cls.key = cls.ca.issue("server")
        cls.www = tempfile.mkdtemp(prefix="reflector-www-")
        with open(os.path.join(cls.www, "index.html"), "w") as f:
            f.write("<!doctype html><title>tls</title>" + "x" * 100000)
        cls.relay = Relay("--tls-cert", cls.cert, "--tls-key", cls.key, "--www", cls.www,
                          "--tls-handshake-timeout", "2", "--tls-threads", "1", log_level="info", metrics=True)
        cls.port = cls.relay.port

    @classmethod
    def tearDownClass(cls):
        try:
            cls.relay.__exit__(None, None, None)
        finally:
            cls.ca.cleanup()
            shutil.rmtree(cls.www, ignore_errors=True)

    def counter(self, name):
        return self.relay.scrape().value(f"reflector_{name}_total")

    def test_python_websockets_over_wss(self):
        async def main():
            async with websockets.connect(f"wss://localhost:{self.port}/", ssl=client_context(self.ca.ca),
                                          subprotocols=["simpatico.v1"], open_timeout=5, close_timeout=5) as ws:
                reg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                self.assertEqual(reg["handler"], "register2")
                for i in range(50):
                    await ws.send(json.dumps({"handler": "ping", "t": i, "pad": "p" * (i * 70)}))
                    pong = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    self.assertEqual((pong["handler"], pong["t"]), ("pong", i))
            self.assertEqual(ws.close_code, 1000)
        run(main())

    def test_https_static_file_tls12_alpn_aead(self):
        ctx = client_context(self.ca.ca)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with urllib.request.urlopen(f"https://localhost:{self.port}/index.html", context=ctx, timeout=5) as r:
            body = r.read().decode()
        self.assertTrue(body.startswith("<!doctype html><title>tls</title>"))
        self.assertEqual(len(body), 100033)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                self.assertEqual(s.version(), "TLSv1.2")
                self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
                self.assertRegex(s.cipher()[0], r"^ECDHE-ECDSA-(AES\d+-GCM|CHACHA20-POLY1305)")

    def test_old_versions_refused(self):
        before = self.counter("tls_handshake_failures")
        for flag in ("-tls1", "-tls1_1"):
            out = s_client(self.port, self.ca.ca, flag, "-cipher", "DEFAULT@SECLEVEL=0")
            self.assertIn("alert protocol version", out, out)
            self.assertNotRegex(out, r"Cipher is ECDHE")
        self.assertGreaterEqual(self.counter("tls_handshake_failures") - before, 2)

    def test_suites_without_aead_or_ecdhe_refused(self):
        for suites in ("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA",
                       "AES128-GCM-SHA256:AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256"):
            out = s_client(self.port, self.ca.ca, "-tls1_2", "-cipher", suites)
            self.assertIn("alert handshake failure", out, out)
        out = s_client(self.port, self.ca.ca, "-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305")
        self.assertIn("Cipher is ECDHE-ECDSA-CHACHA20-POLY1305", out, out)
        self.assertIn("Verify return code: 0 (ok)", out, out)

    def test_renegotiation_refused(self):
        # The R command once the handshake is done, then a second for the answer.
        p = subprocess.run(["sh", "-c", f"(sleep 1; echo R; sleep 1) | openssl s_client -connect 127.0.0.1:{self.port} "
                            f"-CAfile {self.ca.ca} -tls1_2"], capture_output=True, timeout=15)
        out = (p.stdout + p.stderr).decode(errors="replace")
        self.assertIn("RENEGOTIATING", out)
        self.assertIn("no renegotiation", out, out)

    def test_session_ticket_resumes(self):
        before = self.counter("tls_resumed")
        with tempfile.TemporaryDirectory() as d:
            sess = os.path.join(d, "sess.pem")
            out = s_client(self.port, self.ca.ca, "-sess_out", sess)
            self.assertIn("New, TLSv1.2", out)
            self.assertRegex(out, r"TLS session ticket lifetime hint: \d+")
            # Held open a moment: a client that leaves at once may go before
            # the relay has read its Finished (then nothing is counted).
            p = subprocess.run(["sh", "-c", f"sleep 1 | openssl s_client -connect 127.0.0.1:{self.port} "
                                f"-CAfile {self.ca.ca} -servername localhost -sess_in {sess}"],
                               capture_output=True, timeout=15)
            out = (p.stdout + p.stderr).decode(errors="replace")
            self.assertIn("Reused, TLSv1.2", out, out)
        # The relay counts it once the client's Finished is in, after the client's own verdict.
        deadline = time.monotonic() + 3
        while self.counter("tls_resumed") == before and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.counter("tls_resumed") - before, 1)

    def test_garbage_closed_with_an_alert_and_counted(self):
        before = self.counter("tls_handshake_failures")
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(3)
            first = s.recv(7)
            if first:
                self.assertEqual(first[:1], b"\x15", first)  # an alert record, or nothing
                self.assertIsNotNone(closed_within(s, 3))
        self.assertEqual(self.counter("tls_handshake_failures") - before, 1)

    def test_oversize_record_closed_and_counted(self):
        before = self.counter("tls_handshake_failures")
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"\x16\x03\x03\xff\xff" + b"\x01" * 2000)
            self.assertIsNotNone(closed_within(s, 3))
        self.assertEqual(self.counter("tls_handshake_failures") - before, 1)

    def test_stalled_handshake_closed_after_the_timeout(self):
        before = self.counter("tls_handshake_timeouts")
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x02")  # part of a record header, then nothing
            took = closed_within(s, 6)
        self.assertIsNotNone(took, "still open after 6 s")
        self.assertGreater(took, 1.5)
        self.assertLess(took, 3.5)
        self.assertEqual(self.counter("tls_handshake_timeouts") - before, 1)

    def test_bad_record_after_the_handshake_closed_and_counted(self):
        before = self.counter("tls_bad_records")
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw:
            with client_context(self.ca.ca).wrap_socket(raw, server_hostname="localhost") as s:
                # An application-data record whose tag cannot verify, under the TLS layer.
                os.write(s.fileno(), b"\x17\x03\x03\x00\x30" + os.urandom(0x30))
                raw2 = socket.socket(fileno=os.dup(s.fileno()))
                raw2.settimeout(3)
                try:
                    alert = raw2.recv(7)
                    self.assertEqual(alert[:1], b"\x15", alert)  # bad_record_mac, encrypted
                    self.assertIsNotNone(closed_within(raw2, 3))
                finally:
                    raw2.close()
        self.assertEqual(self.counter("tls_bad_records") - before, 1)

    def test_handshake_bytes_over_the_bound_dropped_and_counted(self):
        # A real ClientHello, then 80 KiB more in the same write: they pile
        # up while the handshake thread works on the hello.
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = client_context(self.ca.ca).wrap_bio(incoming, outgoing, server_hostname="localhost")
        with self.assertRaises(ssl.SSLWantReadError):
            obj.do_handshake()
        hello = outgoing.read()
        before = self.counter("tls_handshake_too_large")
        failed = self.counter("tls_handshake_failures")
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            try:
                s.sendall(hello + b"\x16\x03\x03\x40\x00" + b"\x00" * (80 * 1024))
            except (ConnectionResetError, BrokenPipeError):
                pass
            self.assertIsNotNone(closed_within(s, 3))
        grew = self.counter("tls_handshake_too_large") - before
        # Only if the thread beat the bytes is it an ordinary failure instead.
        self.assertTrue(grew == 1 or self.counter("tls_handshake_failures") - failed == 1)
        self.assertEqual(grew, 1, "the handshake step finished before 80 KiB arrived over loopback")

    def test_clients_that_leave_cost_no_handshake_work(self):
        # 60 ClientHellos at once on one handshake thread, each client gone
        # at once: the steps still waiting for the thread are skipped.
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = client_context(self.ca.ca).wrap_bio(incoming, outgoing, server_hostname="localhost")
        with self.assertRaises(ssl.SSLWantReadError):
            obj.do_handshake()
        hello = outgoing.read()
        before = self.counter("tls_steps_skipped")
        socks = [socket.create_connection(("127.0.0.1", self.port), timeout=5) for _ in range(60)]
        for s in socks:
            s.sendall(hello)
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()  # a reset: the relay sees the client gone at once
        deadline = time.monotonic() + 10
        while self.counter("tls_steps_skipped") == before and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertGreater(self.counter("tls_steps_skipped") - before, 0)

    def test_plain_websocket_client_gets_no_upgrade(self):
        async def main():
            with self.assertRaises(Exception):
                await websockets.connect(f"ws://127.0.0.1:{self.port}/", open_timeout=3)
        run(main())

    def test_expiry_exported_and_logged(self):
        not_after = datetime.fromisoformat(self.ca.not_after(self.cert).replace("Z", "+00:00"))
        self.assertEqual(self.relay.scrape().value("reflector_tls_cert_expiry_timestamp_seconds"),
                         not_after.timestamp())
        self.assertTrue(self.relay.log_lines(r"start: TLS certificate .* expires"))


def thread_cpu_ticks(pid):
    """CPU clock ticks by thread name (comm), summed over its threads."""
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[name] = ticks.get(name, 0) + int(fields[11]) + int(fields[12])
    return ticks


class TlsHandshakesOffTheShards(unittest.TestCase):
    def test_handshake_work_runs_on_the_handshake_threads(self):
        """300 full handshakes: their public-key work shows in the
        tls-handshake threads' CPU time, not in the shards'."""
        ca = TestCA()
        self.addCleanup(ca.cleanup)
        cert, key = ca.issue("server")
        ctx = client_context(ca.ca)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with Relay("--tls-cert", cert, "--tls-key", key, "--tls-threads", "2", log_level="info") as relay:
            before = thread_cpu_ticks(relay.pid)
            self.assertIn("tls-handshake", before)
            self.assertIn("shard-0", before)
            for _ in range(300):
                with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as raw:
                    with ctx.wrap_socket(raw, server_hostname="localhost"):
                        pass
            after = thread_cpu_ticks(relay.pid)
        hs = after["tls-handshake"] - before["tls-handshake"]
        shards = sum(after[n] - before.get(n, 0) for n in after if n.startswith("shard-"))
        # About 5 ms of ECDHE and ECDSA each on a shared 2-core machine; the
        # shards only move bytes.
        self.assertGreater(hs, 30, (hs, shards))
        print(f"handshake threads {hs} ticks, shards {shards} ticks", file=sys.stderr)
        self.assertLess(shards, hs / 4, f"shards {shards} ticks, handshake threads {hs} ticks")


class TlsReload(unittest.TestCase):
    def test_reload_swaps_for_new_connections_and_refuses_a_mismatched_pair(self):
        ca = TestCA()
        self.addCleanup(ca.cleanup)
        first_cert, first_key = ca.issue("first")
        second_cert, second_key = ca.issue("second", kind="rsa", days=60)
        cert = os.path.join(ca.dir, "live.pem")
        key = os.path.join(ca.dir, "live.key")
        shutil.copy(first_cert, cert)
        shutil.copy(first_key, key)
        with Relay("--tls-cert", cert, "--tls-key", key, log_level="info", metrics=True) as relay:
            port = relay.port
            self.assertEqual(peer_fingerprint(port, ca.ca), file_fingerprint(first_cert))

            async def main():
                async with websockets.connect(f"wss://localhost:{port}/", ssl=client_context(ca.ca),
                                              open_timeout=5, close_timeout=5) as old:
                    self.assertEqual(json.loads(await old.recv())["handler"], "register2")
                    # A new pair in place, as certbot renews: new connections get it.
                    shutil.copy(second_cert, cert)
                    shutil.copy(second_key, key)
                    self.assertIn("reload done", relay.reload())
                    self.assertEqual(peer_fingerprint(port, ca.ca), file_fingerprint(second_cert))
                    await old.send(json.dumps({"handler": "ping", "t": 1}))
                    self.assertEqual(json.loads(await asyncio.wait_for(old.recv(), 5))["t"], 1)
                    # A certificate with the other key: nothing changes, and the log says why.
                    shutil.copy(first_cert, cert)
                    self.assertIn("reload done", relay.reload())
                    self.assertTrue(relay.log_lines(r"TLS certificate unchanged.*does not match"), relay.output())
                    self.assertEqual(peer_fingerprint(port, ca.ca), file_fingerprint(second_cert))
                    await old.send(json.dumps({"handler": "ping", "t": 2}))
                    self.assertEqual(json.loads(await asyncio.wait_for(old.recv(), 5))["t"], 2)
            run(main(), timeout=30)
            not_after = datetime.fromisoformat(ca.not_after(second_cert).replace("Z", "+00:00"))
            self.assertEqual(relay.scrape().value("reflector_tls_cert_expiry_timestamp_seconds"),
                             not_after.timestamp())
            self.assertEqual(len(relay.log_lines(r"reload: TLS certificate .* expires")), 1)

    def test_bad_files_refused_at_start(self):
        ca = TestCA()
        self.addCleanup(ca.cleanup)
        cert, _ = ca.issue("a")
        _, other_key = ca.issue("b")
        for args, why in ((("--tls-cert", cert), "go together"),
                          (("--tls-cert", cert, "--tls-key", other_key), "does not match"),
                          (("--tls-cert", os.path.join(ca.dir, "none.pem"), "--tls-key", other_key), "--tls-cert")):
            with self.subTest(args=args):
                with self.assertRaises(RuntimeError) as e:
                    Relay(*args).cleanup()
                self.assertIn(why, str(e.exception))

    def test_over_max_conns_closed_without_plaintext(self):
        ca = TestCA()
        self.addCleanup(ca.cleanup)
        cert, key = ca.issue("a")
        # Ready by its log, not by a probe connection that would take the one slot.
        with Relay("--tls-cert", cert, "--tls-key", key, "--max-conns", "1", metrics=True, log_level="info") as relay:
            with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as first:
                with client_context(ca.ca).wrap_socket(first, server_hostname="localhost"):
                    with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as second:
                        second.settimeout(3)
                        try:
                            got = second.recv(100)
                        except ConnectionResetError:
                            got = b""
                        self.assertEqual(got, b"")  # no "HTTP/1.1 503" in the clear
                    self.assertEqual(relay.scrape().value("reflector_connections_refused_total", reason="max_conns"), 1)

    def test_proxy_header_in_clear_before_the_tls_bytes(self):
        # A TCP-mode balancer (HAProxy's `send-proxy-v2` on a TLS pass-through)
        # writes the PROXY header before the client's TLS bytes.
        ca = TestCA()
        self.addCleanup(ca.cleanup)
        cert, key = ca.issue("p")
        with Relay("--tls-cert", cert, "--tls-key", key, "--proxy-protocol", "--tls-threads", "1",
                   metrics=True, log_level="debug") as relay:
            with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as raw:
                raw.sendall(b"PROXY TCP4 203.0.113.9 192.0.2.1 40009 443\r\n")
                with client_context(ca.ca).wrap_socket(raw, server_hostname="localhost") as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    got = b""
                    while b"\r\n\r\n" not in got:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        got += chunk
                    self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:100])
            deadline = time.monotonic() + 3
            while "addr=203.0.113.9:40009 via=proxy-protocol" not in relay.output() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn("addr=203.0.113.9:40009 via=proxy-protocol", relay.output())
            # Without the header, the TLS ClientHello is not a PROXY header: closed and counted.
            with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as raw:
                with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
                    client_context(ca.ca).wrap_socket(raw, server_hostname="localhost")
            self.assertGreaterEqual(relay.scrape().value("reflector_connections_refused_total", reason="proxy_header"), 1)

    def test_check_config_loads_and_matches_the_pair(self):
        ca = TestCA()
        self.addCleanup(ca.cleanup)
        cert, key = ca.issue("a")
        _, other_key = ca.issue("b")
        conf = os.path.join(ca.dir, "r.conf")
        with open(conf, "w") as f:
            f.write(f"tls-cert = {cert}\ntls-key = {key}\n")
        ok = run_cli("check-config", conf)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn(f"tls-cert = {cert}", ok.stdout)
        with open(conf, "w") as f:
            f.write(f"tls-cert = {cert}\ntls-key = {other_key}\n")
        bad = run_cli("check-config", conf)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("does not match the certificate", bad.stderr)


if __name__ == "__main__":
    unittest.main()
