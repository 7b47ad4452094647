"""A certificate authority made for one test with openssl, and server
certificates it signs for localhost and 127.0.0.1 (EC P-256 or RSA 2048).
Clients trust the CA's file (`ca`) instead of skipping verification."""
import os
import subprocess
import tempfile


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class TestCA:
    def __init__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="reflector-ca-")
        self.dir = self._tmp.name
        self.ca = os.path.join(self.dir, "ca.pem")
        self._ca_key = os.path.join(self.dir, "ca.key")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", self._ca_key, "-out", self.ca, "-days", "2", "-subj", "/CN=Reflector test CA",
                 cwd=self.dir)
        self._n = 0

    def issue(self, name="server", kind="ec", days=30):
        """A key and a certificate for localhost signed by the CA: (cert, key)."""
        self._n += 1
        key = os.path.join(self.dir, f"{name}.key")
        csr = os.path.join(self.dir, f"{name}.csr")
        cert = os.path.join(self.dir, f"{name}.pem")
        ext = os.path.join(self.dir, f"{name}.ext")
        newkey = ["rsa:2048"] if kind == "rsa" else ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        _openssl("req", "-newkey", *newkey, "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost",
                 cwd=self.dir)
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self._ca_key, "-set_serial", str(1000 + self._n),
                 "-days", str(days), "-extfile", ext, "-out", cert, cwd=self.dir)
        return cert, key

    def fingerprint(self, cert):
        out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"],
                             check=True, capture_output=True, text=True, timeout=10).stdout
        return out.strip().split("=", 1)[1]

    def not_after(self, cert):
        out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-enddate", "-dateopt", "iso_8601"],
                             check=True, capture_output=True, text=True, timeout=10).stdout
        return out.strip().split("=", 1)[1]

    def cleanup(self):
        self._tmp.cleanup()
