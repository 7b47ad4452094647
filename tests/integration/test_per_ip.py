"""--max-conns-per-ip: N connections from one address, the next refused with
503 and counted; another loopback address still gets in; a closed
connection gives its share back."""
import base64
import os
import re
import socket
import time
import unittest

from relayproc import Relay


def upgrade_from(port, source, timeout=3.0):
    """Opens a socket from `source`, asks for a WebSocket upgrade, returns
    (status, socket). The socket stays open for accepted upgrades."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    data = b""
    deadline = time.monotonic() + timeout
    while b"\r\n" not in data and time.monotonic() < deadline:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
    return (int(m.group(1)) if m else None), s


def totals(output):
    line = [l for l in output.splitlines() if " totals:" in l][-1]
    return dict(kv.split("=") for kv in line.split("totals:")[1].split())


class MaxConnsPerIp(unittest.TestCase):
    def test_limit_per_address(self):
        relay = Relay("--max-conns-per-ip", "3", log_level="info")
        held = []
        try:
            for _ in range(3):
                status, s = upgrade_from(relay.port, "127.0.0.1")
                held.append(s)
                self.assertEqual(status, 101)
            status, s = upgrade_from(relay.port, "127.0.0.1")
            s.close()
            self.assertEqual(status, 503, "4th connection from one address")
            # Another address has its own allowance.
            status, s = upgrade_from(relay.port, "127.0.0.2")
            held.append(s)
            self.assertEqual(status, 101, "first connection from 127.0.0.2")
            # A closed connection gives its share back.
            held.pop(0).close()
            accepted = False
            for _ in range(50):
                status, s = upgrade_from(relay.port, "127.0.0.1")
                if status == 101:
                    held.append(s)
                    accepted = True
                    break
                s.close()
                time.sleep(0.1)
            self.assertTrue(accepted, "no share given back after a close")
        finally:
            for s in held:
                s.close()
            code = relay.stop()
        out = relay.output()
        relay.log.close()
        os.unlink(relay.log.name)
        self.assertEqual(code, 0, out)
        counters = totals(out)
        self.assertGreaterEqual(int(counters.get("refused_per_ip", 0)), 1, out)
        self.assertIn("--max-conns-per-ip 3 reached", out)

    def test_default_is_no_limit(self):
        with Relay() as relay:
            held = []
            try:
                for _ in range(50):
                    status, s = upgrade_from(relay.port, "127.0.0.1")
                    held.append(s)
                    self.assertEqual(status, 101)
            finally:
                for s in held:
                    s.close()


if __name__ == "__main__":
    unittest.main()
