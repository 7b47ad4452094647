"""The real client address behind a proxy: --proxy-protocol (v1 and v2
headers; a connection without a valid one is closed, logged and counted)
and --trusted-proxy with X-Forwarded-For or Forwarded (honoured from a
trusted peer only; the same header from any other peer is ignored). The
address found is the one --max-conns-per-ip counts and the logs name."""
import ipaddress
import socket
import struct
import time
import unittest

from tests.lib.rawhttp import connect
from tests.lib.relayproc import Relay, run_cli
from tests.lib.syncws import Client
from tests.lib.wire import upgrade_request

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v1(src, dst="192.0.2.1", sport=51000, dport=8080):
    family = "TCP6" if ":" in src else "TCP4"
    return f"PROXY {family} {src} {dst} {sport} {dport}\r\n".encode()


def proxy_v2(src, dst=None, sport=51000, dport=8080, local=False):
    if local:
        return V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    a = ipaddress.ip_address(src)
    if a.version == 4:
        d = ipaddress.ip_address(dst or "192.0.2.1")
        body = a.packed + d.packed + struct.pack("!HH", sport, dport)
        fam = 0x11
    else:
        d = ipaddress.ip_address(dst or "2001:db8::2")
        body = a.packed + d.packed + struct.pack("!HH", sport, dport)
        fam = 0x21
    return V2_SIGNATURE + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


def upgrade(port, prefix=b"", headers=None, source=None, splits=None, timeout=3.0):
    """An upgrade request preceded by `prefix` (a PROXY header); returns the
    Client with its response head read (status 101 keeps it open)."""
    c = Client(connect(port, timeout, source=source), timeout)
    req, c.key = upgrade_request(port, "/", headers=headers)
    c.send_raw(prefix + req, splits=splits)
    c.head = c.read_head(timeout)
    return c


def wait_log(relay, text, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in relay.output():
            return True
        time.sleep(0.02)
    return False


class ProxyProtocol(unittest.TestCase):
    def test_v1_address_is_counted_and_logged(self):
        with Relay("--proxy-protocol", "--max-conns-per-ip", "2", log_level="debug") as relay:
            held = []
            try:
                for port in (40001, 40002):
                    c = upgrade(relay.port, proxy_v1("203.0.113.7", sport=port))
                    held.append(c)
                    self.assertEqual(c.status, 101)
                self.assertTrue(wait_log(relay, "addr=203.0.113.7:40001 via=proxy-protocol"), relay.output()[-2000:])
                # A third from the same real address: refused, though every
                # connection came from 127.0.0.1.
                c = upgrade(relay.port, proxy_v1("203.0.113.7", sport=40003))
                c.abort()
                self.assertEqual(c.status, 503)
                c = upgrade(relay.port, proxy_v1("203.0.113.8"))
                held.append(c)
                self.assertEqual(c.status, 101, "another real address has its own allowance")
            finally:
                for c in held:
                    c.abort()
                relay.stop()
        self.assertEqual(relay.count("proxy_headers"), 4, relay.output()[-2000:])
        self.assertEqual(relay.count("refused_per_ip"), 1)
        self.assertIn("--max-conns-per-ip 2 reached addr=203.0.113.7:40003", relay.output())

    def test_v2_ipv4_ipv6_local_and_split(self):
        with Relay("--proxy-protocol", log_level="debug") as relay:
            held = []
            try:
                c = upgrade(relay.port, proxy_v2("198.51.100.20", sport=41000))
                held.append(c)
                self.assertEqual(c.status, 101)
                c = upgrade(relay.port, proxy_v2("2001:db8::77", sport=41001))
                held.append(c)
                self.assertEqual(c.status, 101)
                # The header cut in three reads, one in the signature.
                c = upgrade(relay.port, proxy_v2("198.51.100.21", sport=41002), splits=[5, 14])
                held.append(c)
                self.assertEqual(c.status, 101)
                # LOCAL (a proxy's health check): the socket's peer stays.
                c = upgrade(relay.port, proxy_v2(None, local=True))
                held.append(c)
                self.assertEqual(c.status, 101)
                for text in ("addr=198.51.100.20:41000", "addr=[2001:db8::77]:41001", "addr=198.51.100.21:41002"):
                    self.assertTrue(wait_log(relay, text + " via=proxy-protocol"), text)
            finally:
                for c in held:
                    c.abort()
                relay.stop()
        self.assertEqual(relay.count("proxy_headers"), 4)
        self.assertEqual(relay.count("refused_proxy_header"), 0)

    def test_malformed_or_missing_header_is_closed(self):
        bad = [
            b"",                                                   # a plain request, no header
            b"PROXY TCP4 999.0.0.1 192.0.2.1 1 2\r\n",             # not an address
            b"PROXY TCP4 192.0.2.9 192.0.2.1 1\r\n",               # a port missing
            V2_SIGNATURE + bytes([0x31, 0x11, 0, 12]) + bytes(12),  # version 3
        ]
        with Relay("--proxy-protocol", log_level="info") as relay:
            for prefix in bad:
                sock = connect(relay.port, 3.0)
                req, _ = upgrade_request(relay.port, "/")
                sock.sendall(prefix + req)
                got = b""
                try:
                    for _ in range(100):
                        piece = sock.recv(4096)
                        if not piece:
                            break
                        got += piece
                except ConnectionResetError:
                    pass
                except socket.timeout:
                    self.fail(f"connection kept after {prefix!r}")
                finally:
                    sock.close()
                self.assertEqual(got, b"", "no HTTP answer on a connection that is not HTTP yet")
            relay.stop()
        out = relay.output()
        self.assertEqual(relay.count("refused_proxy_header"), len(bad), out[-2000:])
        self.assertIn("wants a PROXY header first", out)

    def test_without_the_flag_a_header_is_a_bad_request(self):
        with Relay() as relay:
            c = upgrade(relay.port, proxy_v1("203.0.113.7"))
            c.abort()
            self.assertEqual(c.status, 400)


class TrustedProxy(unittest.TestCase):
    def test_xff_from_a_trusted_peer(self):
        with Relay("--trusted-proxy", "127.0.0.1", "--max-conns-per-ip", "1", log_level="debug") as relay:
            held = []
            try:
                # The client's own claim (leftmost) is not believed past an
                # untrusted hop: the rightmost untrusted address is the client.
                c = upgrade(relay.port, headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.1"})
                held.append(c)
                self.assertEqual(c.status, 101)
                self.assertTrue(wait_log(relay, "addr=198.51.100.1:0 via=X-Forwarded-For"), relay.output()[-2000:])
                c = upgrade(relay.port, headers={"X-Forwarded-For": "198.51.100.1"})
                c.abort()
                self.assertEqual(c.status, 503, "the forwarded address holds its one connection")
                c = upgrade(relay.port, headers={"X-Forwarded-For": "198.51.100.2"})
                held.append(c)
                self.assertEqual(c.status, 101)
                # Two header lines are one list.
                c = upgrade(relay.port, headers={"X-Forwarded-For": "198.51.100.3", "x-forwarded-for": "127.0.0.1"})
                held.append(c)
                self.assertEqual(c.status, 101)
                self.assertTrue(wait_log(relay, "addr=198.51.100.3:0 via=X-Forwarded-For"), relay.output()[-2000:])
            finally:
                for c in held:
                    c.abort()
                relay.stop()
        self.assertEqual(relay.count("forwarded_addresses"), 4)

    def test_spoofed_xff_from_an_untrusted_peer_is_ignored(self):
        with Relay("--trusted-proxy", "127.0.0.2", "--max-conns-per-ip", "1", log_level="debug") as relay:
            held = []
            try:
                c = upgrade(relay.port, headers={"X-Forwarded-For": "198.51.100.1"}, source="127.0.0.1")
                held.append(c)
                self.assertEqual(c.status, 101)
                # Another spoofed address does not buy another connection.
                c = upgrade(relay.port, headers={"X-Forwarded-For": "198.51.100.9"}, source="127.0.0.1")
                c.abort()
                self.assertEqual(c.status, 503)
                # The trusted one is believed.
                c = upgrade(relay.port, headers={"X-Forwarded-For": "198.51.100.9"}, source="127.0.0.2")
                held.append(c)
                self.assertEqual(c.status, 101)
                self.assertTrue(wait_log(relay, "addr=198.51.100.9:0 via=X-Forwarded-For"))
            finally:
                for c in held:
                    c.abort()
                relay.stop()
        out = relay.output()
        self.assertNotIn("addr=198.51.100.1", out)
        self.assertEqual(relay.count("forwarded_addresses"), 1, out[-2000:])

    def test_forwarded_header(self):
        with Relay("--trusted-proxy", "127.0.0.0/8", "--forwarded-header", "forwarded", log_level="debug") as relay:
            held = []
            try:
                c = upgrade(relay.port, headers={"Forwarded": 'for="[2001:db8::5]:4711";proto=https'})
                held.append(c)
                self.assertEqual(c.status, 101)
                self.assertTrue(wait_log(relay, "addr=[2001:db8::5]:4711 via=Forwarded"), relay.output()[-2000:])
                # Only the configured header is read: X-Forwarded-For is not.
                c = upgrade(relay.port, headers={"X-Forwarded-For": "198.51.100.44"})
                held.append(c)
                self.assertEqual(c.status, 101)
                # A malformed Forwarded keeps the peer.
                c = upgrade(relay.port, headers={"Forwarded": "for=[broken"})
                held.append(c)
                self.assertEqual(c.status, 101)
            finally:
                for c in held:
                    c.abort()
                relay.stop()
        out = relay.output()
        self.assertNotIn("198.51.100.44", out)
        self.assertEqual(relay.count("forwarded_addresses"), 1, out[-2000:])

    def test_proxy_protocol_then_trusted_header(self):
        """PROXY names a trusted proxy (nginx behind HAProxy): its
        X-Forwarded-For names the client."""
        with Relay("--proxy-protocol", "--trusted-proxy", "10.0.0.0/8", log_level="debug") as relay:
            c = upgrade(relay.port, proxy_v1("10.1.2.3"), headers={"X-Forwarded-For": "203.0.113.50"})
            try:
                self.assertEqual(c.status, 101)
                self.assertTrue(wait_log(relay, "addr=203.0.113.50:0 via=X-Forwarded-For"), relay.output()[-2000:])
            finally:
                c.abort()

    def test_bad_values_are_refused(self):
        for args in (["--trusted-proxy", "10.1.2.3/8"], ["--trusted-proxy", "nonsense"],
                     ["--forwarded-header", "x-real-ip"]):
            r = run_cli(*args, "--listen", "127.0.0.1:1")
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("bad value for --" + args[0][2:], r.stderr)


if __name__ == "__main__":
    unittest.main()
