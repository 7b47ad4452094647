"""--max-conns-per-ip: N connections from one address, the next refused with
503 and counted; another loopback address still gets in; a closed
connection gives its share back."""
import os
import time
import unittest

from relayproc import Relay

from tests.lib.syncws import ws_handshake


def upgrade_from(port, source, timeout=3.0):
    """Asks for a WebSocket upgrade from the address `source`; returns
    (status, connection). The connection stays open for accepted upgrades."""
    ws = ws_handshake(port, timeout=timeout, source=source)
    return ws.status, ws


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
            s.abort()
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
                s.abort()
                time.sleep(0.1)
            self.assertTrue(accepted, "no share given back after a close")
        finally:
            for s in held:
                s.abort()
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
                    s.abort()


if __name__ == "__main__":
    unittest.main()
