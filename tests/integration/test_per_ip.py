"""--max-conns-per-ip: N connections from one address, the next refused with
503 and counted; another loopback address still gets in; a closed
connection gives its share back."""
import time
import unittest

from tests.lib.relayproc import Relay
from tests.lib.syncws import ws_handshake


def upgrade_from(port, source, timeout=3.0):
    """Asks for a WebSocket upgrade from the address `source`; returns
    (status, connection). The connection stays open for accepted upgrades."""
    ws = ws_handshake(port, timeout=timeout, source=source)
    return ws.status, ws


class MaxConnsPerIp(unittest.TestCase):
    def test_limit_per_address(self):
        with Relay("--max-conns-per-ip", "3", log_level="info") as relay:
            held = []
            try:
                for _ in range(3):
                    status, s = upgrade_from(relay.port, "127.0.0.1")
                    held.append(s)
                    self.assertEqual(status, 101)
                status, s = upgrade_from(relay.port, "127.0.0.1")
                s.abort()
                self.assertEqual(status, 503, "4th connection from one address")
                # Another address has its own allowance.
                status, s = upgrade_from(relay.port, "127.0.0.2")
                held.append(s)
                self.assertEqual(status, 101, "first connection from 127.0.0.2")
                # A closed connection gives its share back.
                held.pop(0).abort()
                accepted = False
                for _ in range(50):
                    status, s = upgrade_from(relay.port, "127.0.0.1")
                    if status == 101:
                        held.append(s)
                        accepted = True
                        break
                    s.abort()
                    time.sleep(0.1)
                self.assertTrue(accepted, "no share given back after a close")
            finally:
                for s in held:
                    s.abort()
                code = relay.stop()
        out = relay.output()
        self.assertEqual(code, 0, out)
        self.assertGreaterEqual(relay.count("refused_per_ip"), 1, out)
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
                    s.abort()


if __name__ == "__main__":
    unittest.main()
