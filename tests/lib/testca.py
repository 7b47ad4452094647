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


_run = None


def over_tls():
    """TEST_OVER_TLS=1: every relay a test starts speaks TLS, and the raw
    clients (rawhttp.connect) speak it too, so a suite runs over TLS
    unchanged."""
    return os.environ.get("TEST_OVER_TLS") == "1"


def run_ca():
    """The run's CA and one server certificate: (ca, cert, key), made once."""
    global _run
    if _run is None:
        import atexit
        ca = TestCA()
        cert, key = ca.issue("server")
        atexit.register(ca.cleanup)
        _run = (ca, cert, key)
    return _run


def client_wrap(sock):
    """A plain socket whose bytes reach the relay over TLS on sock (the
    certificate verified against the run's CA). Two threads carry the bytes,
    one each way, through one ssl.SSLObject under a lock, so a test may read
    and write at once from two threads as on plain TCP (an ssl.SSLSocket
    cannot be shared so, nor duplicated). EOF and resets pass through as EOF."""
    import socket
    import ssl
    import threading
    ctx = ssl.create_default_context(cafile=run_ca()[0].ca)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    timeout = sock.gettimeout()
    sock.settimeout(10)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            if outgoing.pending:
                sock.sendall(outgoing.read())
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("relay closed during the TLS handshake")
            incoming.write(data)
    if outgoing.pending:
        sock.sendall(outgoing.read())
    sock.settimeout(None)
    lock = threading.Lock()
    # A TCP pair on loopback, not a socketpair: tests set TCP options.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        mine = socket.create_connection(listener.getsockname(), timeout=5)
        theirs, _ = listener.accept()
    theirs.settimeout(None)

    def from_relay():
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                with lock:
                    incoming.write(data)
                    plain = bytearray()
                    while True:
                        try:
                            plain += tls.read(65536)
                        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                            break
                    out = outgoing.read()
                if out:
                    sock.sendall(out)
                if plain:
                    theirs.sendall(plain)
        except (OSError, ssl.SSLError):
            pass
        try:
            theirs.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def to_relay():
        try:
            while True:
                data = theirs.recv(65536)
                if not data:
                    sock.shutdown(socket.SHUT_WR)
                    break
                with lock:
                    tls.write(data)
                    out = outgoing.read()
                sock.sendall(out)
        except (OSError, ssl.SSLError):
            pass

    for fn in (from_relay, to_relay):
        threading.Thread(target=fn, daemon=True).start()
    mine.settimeout(timeout)
    return mine
