"""Shared helpers for the integration tests: raw HTTP and a small raw
WebSocket client over plain sockets. Every socket operation has a timeout and
every loop is bounded in count and time, so a hung case fails, never hangs.
Only 127.0.0.1 is ever contacted.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import time

from . import _LIB  # noqa: F401  (sys.path set-up for relayproc)
from relayproc import ROOT as ROOT_DIR, Relay, binary, free_port  # noqa: F401  (re-exported)

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HOST = "127.0.0.1"
MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def now_ms():
    return int(time.time() * 1000)


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


class Closed(Exception):
    """The peer closed the TCP connection (EOF or reset)."""


def connect(port, timeout=5.0):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def _recv_some(sock, deadline, n=65536):
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout("deadline passed")
    sock.settimeout(left)
    try:
        data = sock.recv(n)
    except (ConnectionResetError, BrokenPipeError) as e:
        raise Closed(str(e))
    if not data:
        raise Closed("EOF")
    return data


def read_head(sock, buf=b"", timeout=5.0):
    """Read an HTTP response head. Returns (status, reason, headers, rest).
    headers: dict of lower-cased name -> list of values."""
    deadline = time.monotonic() + timeout
    for _ in range(10000):
        i = buf.find(b"\r\n\r\n")
        if i >= 0:
            break
        if len(buf) > MAX_HEAD:
            raise AssertionError("response head over 64 KiB")
        buf += _recv_some(sock, deadline)
    else:
        raise AssertionError("response head never completed")
    head, rest = buf[:i].decode("latin-1"), buf[i + 4:]
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise AssertionError(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = {}
    for line in lines[1:]:
        if ":" not in line:
            raise AssertionError(f"bad header line {line!r}")
        name, value = line.split(":", 1)
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, reason, headers, rest


class Response:
    def __init__(self, status, reason, headers, body, version, closed):
        self.status, self.reason, self.headers = status, reason, headers
        self.body, self.version, self.closed = body, version, closed

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def __repr__(self):
        return f"<Response {self.status} {self.headers} body={self.body[:80]!r}>"


def http_raw(port, request, timeout=5.0, read_body=True):
    """Send raw request bytes, read one response. Body by Content-Length,
    else until EOF. `closed` tells whether the server closed afterwards
    (checked briefly)."""
    deadline = time.monotonic() + timeout
    with connect(port, timeout) as s:
        s.sendall(request)
        status, reason, headers, rest = read_head(s, b"", timeout)
        body = rest
        closed = False
        cl = headers.get("content-length")
        if status < 200 or status in (204, 304):
            read_body = False  # no body (a 101 would be followed by frames)
        if read_body:
            if cl is not None:
                n = int(cl[0])
                if n > MAX_BODY:
                    raise AssertionError("body too large")
                try:
                    while len(body) < n:
                        body += _recv_some(s, deadline)
                except Closed:
                    closed = True
            else:
                try:
                    while len(body) < MAX_BODY:
                        body += _recv_some(s, deadline)
                except Closed:
                    closed = True
        return Response(status, reason, headers, body, None, closed)


def http_get(port, path, method="GET", headers=None, body=b"", timeout=5.0):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    req = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    return http_raw(port, req, timeout)


def upgrade_request(port, path="/", key=None, headers=None, drop=()):
    """A WebSocket upgrade request. `headers` adds/overrides (exact names),
    `drop` removes default headers by lower-cased name."""
    key = key or new_key()
    base = [("Host", f"{HOST}:{port}"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]
    extra = dict(headers or {})
    lower_extra = {k.lower() for k in extra}
    out = [f"GET {path} HTTP/1.1"]
    for k, v in base:
        if k.lower() in drop or k.lower() in lower_extra:
            continue
        out.append(f"{k}: {v}")
    for k, v in extra.items():
        out.append(f"{k}: {v}")
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1"), key


def encode_frame(opcode, payload=b"", fin=True, mask=True, rsv=0):
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return hdr + key + masked


class WS:
    """A raw WebSocket client connection (after a 101)."""

    def __init__(self, sock, buf, status, headers):
        self.sock, self.buf, self.status, self.headers = sock, buf, status, headers

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    # sending
    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", fin=True, mask=True, rsv=0):
        self.sock.sendall(encode_frame(opcode, payload, fin, mask, rsv))

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text)

    def send_json(self, obj):
        self.send_text(json.dumps(obj, separators=(",", ":")))

    def send_close(self, code=1000, reason=b""):
        self.send_frame(OP_CLOSE, struct.pack("!H", code) + reason if code is not None else b"")

    # receiving
    def _need(self, n, deadline):
        for _ in range(1_000_000):
            if len(self.buf) >= n:
                return
            self.buf += _recv_some(self.sock, deadline)
        raise AssertionError("frame never completed")

    def recv_frame(self, timeout=5.0):
        """One frame: (fin, opcode, payload). Asserts server frames are unmasked
        and have no RSV bits. Raises Closed on EOF, socket.timeout on timeout."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise AssertionError("server sent a masked frame")
        if b0 & 0x70:
            raise AssertionError(f"server frame with RSV bits set: {b0:#x}")
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4, deadline)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        if n > MAX_BODY:
            raise AssertionError(f"server frame length {n}")
        self._need(off + n, deadline)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_message(self, timeout=5.0, auto_pong=True, keep_pings=None):
        """Next data message or close: (opcode, payload). Pings are answered
        (auto_pong) and appended to keep_pings if a list is given; pongs are
        skipped. Fragments are joined."""
        deadline = time.monotonic() + timeout
        parts, first = [], None
        for _ in range(100000):
            fin, op, payload = self.recv_frame(max(0.0, deadline - time.monotonic()) or 0.001)
            if op == OP_PING:
                if keep_pings is not None:
                    keep_pings.append((time.monotonic(), payload))
                if auto_pong:
                    self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                return op, payload
            if op == OP_CONT:
                if first is None:
                    raise AssertionError("continuation frame without a start")
            else:
                if first is not None:
                    raise AssertionError("new data frame inside a fragmented message")
                first = op
            parts.append(payload)
            if fin:
                return first, b"".join(parts)
        raise AssertionError("too many frames")

    def recv_json(self, timeout=5.0, auto_pong=True):
        op, payload = self.recv_message(timeout, auto_pong=auto_pong)
        if op == OP_CLOSE:
            raise AssertionError(f"expected a text message, got close {close_code(payload)}")
        if op != OP_TEXT:
            raise AssertionError(f"expected a text message, got opcode {op}")
        obj = json.loads(payload.decode("utf-8"))
        if not isinstance(obj, dict):
            raise AssertionError(f"message is not a JSON object: {payload!r}")
        return obj

    def request(self, obj_or_text, timeout=5.0, auto_pong=True):
        if isinstance(obj_or_text, (str, bytes)):
            self.send_text(obj_or_text)
        else:
            self.send_json(obj_or_text)
        return self.recv_json(timeout, auto_pong=auto_pong)

    def expect_close(self, timeout=5.0, reply=True, auto_pong=True):
        """Read until the server closes. Returns the close code from the close
        frame (None if the close frame had no code), or 'eof' if the TCP
        connection ended without a close frame. Data messages are skipped."""
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            try:
                op, payload = self.recv_message(max(0.001, deadline - time.monotonic()),
                                                auto_pong=auto_pong)
            except Closed:
                return "eof"
            if op == OP_CLOSE:
                if reply:
                    try:
                        self.send_frame(OP_CLOSE, payload[:2])
                    except OSError:
                        pass
                return close_code(payload)
        raise AssertionError("no close")

    def wait_eof(self, timeout=5.0):
        """After a close exchange: True if the server ends TCP in time."""
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            try:
                _recv_some(self.sock, deadline)
            except Closed:
                return True
            except socket.timeout:
                return False
        return False

    def close(self, code=1000, timeout=5.0):
        """Client-initiated close; returns the server's echoed code."""
        self.send_close(code)
        return self.expect_close(timeout, reply=False)

    def abort(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()
        return False


def close_code(payload):
    if len(payload) >= 2:
        return struct.unpack("!H", payload[:2])[0]
    return None


def ws_handshake(port, path="/", headers=None, drop=(), extra=b"", timeout=5.0):
    """Send an upgrade request (+ extra bytes in the same write). Returns a WS
    with status/headers set, whatever the status (caller checks)."""
    req, key = upgrade_request(port, path, headers=headers, drop=drop)
    s = connect(port, timeout)
    try:
        s.sendall(req + extra)
        status, reason, hdrs, rest = read_head(s, b"", timeout)
    except BaseException:
        s.close()
        raise
    ws = WS(s, rest, status, hdrs)
    ws.key = key
    return ws


def ws_open(port, path="/", headers=None, timeout=5.0):
    """A connected WebSocket that has read its register2. Returns (ws, register2)."""
    ws = ws_handshake(port, path, headers=headers, timeout=timeout)
    if ws.status != 101:
        ws.abort()
        raise AssertionError(f"upgrade refused with {ws.status}")
    try:
        reg = ws.recv_json(timeout)
    except BaseException:
        ws.abort()
        raise
    if reg.get("handler") != "register2":
        ws.abort()
        raise AssertionError(f"first message is not register2: {reg}")
    return ws, reg


def run_cli(*args, timeout=10.0):
    """Run the relay binary with args; returns CompletedProcess (text)."""
    import subprocess
    return subprocess.run([binary(), *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)

