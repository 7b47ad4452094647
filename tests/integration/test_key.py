"""The server key: `reflector keygen FILE`, `--key FILE`, and a fresh key
per run without it. The SIG printed, logged and implied by register2's
publicKeyPem must all be the same one."""
import base64
import hashlib
import os
import re
import stat
import subprocess
import tempfile
import unittest

from tests.lib.relayproc import Relay, free_port, run_cli
from tests.lib.syncws import ws_open


def sig_of_pem(pem):
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    der = base64.b64decode(body)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def p256_pkcs8_pem():
    """A P-256 private key in PKCS#8 PEM, made with Node's crypto."""
    script = ("const {generateKeyPairSync}=require('crypto');"
              "const {privateKey}=generateKeyPairSync('ec',{namedCurve:'P-256'});"
              "process.stdout.write(privateKey.export({type:'pkcs8',format:'pem'}))")
    return subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30,
                          check=True).stdout


class Keygen(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "relay.key")

    def tearDown(self):
        self.dir.cleanup()

    def test_keygen_writes_a_private_file_and_the_relay_uses_it(self):
        r = run_cli("keygen", self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        sig = r.stdout.strip()
        self.assertRegex(sig, r"^[A-Za-z0-9_-]{43}$")
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)
        with open(self.path) as f:
            self.assertTrue(f.read().startswith("-----BEGIN PRIVATE KEY-----\n"))
        with Relay("--key", self.path, log_level="info") as relay:
            ws, reg = ws_open(relay.port)
            ws.close()
            self.assertEqual(sig_of_pem(reg["publicKeyPem"]), sig)
            self.assertIn(f"server key {sig}", relay.output())
            self.assertNotIn("fresh for this run", relay.output())

    def test_keygen_never_overwrites(self):
        with open(self.path, "w") as f:
            f.write("keep me\n")
        r = run_cli("keygen", self.path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(self.path, r.stderr)
        with open(self.path) as f:
            self.assertEqual(f.read(), "keep me\n")

    def test_keygen_needs_exactly_one_file(self):
        r = run_cli("keygen")
        self.assertEqual(r.returncode, 2)
        self.assertIn("keygen", r.stderr)


class BadKey(unittest.TestCase):
    """An unusable --key is a clear one-line error naming the file, exit 2."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def refused(self, path, word):
        r = run_cli("--key", path, "--listen", f"127.0.0.1:{free_port()}")
        self.assertEqual(r.returncode, 2, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(path, lines[0])
        self.assertRegex(lines[0].lower(), word)

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_missing_file(self):
        self.refused(os.path.join(self.dir.name, "absent.key"), r"no such file|cannot|unreadable")

    def test_not_a_key(self):
        self.refused(self.write("garbage.key", "hello\n"), r"key|pem")

    def test_wrong_curve(self):
        self.refused(self.write("p256.key", p256_pkcs8_pem()), r"p-521|curve")


class FreshKey(unittest.TestCase):
    def test_each_run_without_key_has_its_own_key(self):
        sigs = []
        for _ in range(2):
            with Relay(log_level="info") as relay:
                ws, reg = ws_open(relay.port)
                ws.close()
                sig = sig_of_pem(reg["publicKeyPem"])
                self.assertIn(f"server key {sig} (fresh for this run)", relay.output())
                sigs.append(sig)
        self.assertNotEqual(sigs[0], sigs[1])


if __name__ == "__main__":
    unittest.main()
