"""A raw RFC 6455 client for conformance tests: plain sockets, no library.

It can send anything (any FIN/RSV/opcode, masked or not, a length field that
lies, frames cut at chosen byte offsets so the pieces reach the server in
separate reads) and checks everything the server sends (unmasked, FIN set,
RSV 0, a known opcode, control payloads <= 125 bytes).

Every read has a deadline and every loop is bounded, so a misbehaving server
makes a test fail, never hang. Only the address given is contacted (the
tests use 127.0.0.1).
"""
import base64
import hashlib
import os
import socket
import struct
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPCODE_NAMES = {0: "CONT", 1: "TEXT", 2: "BINARY", 8: "CLOSE", 9: "PING", 10: "PONG"}

DEFAULT_TIMEOUT = 5.0      # one read or one whole expectation
CLOSE_TIMEOUT = 3.0        # server must close TCP this soon after its close frame
PIECE_DELAY = 0.004        # sleep between split pieces so they land in separate reads
MAX_HEAD = 16 * 1024
MAX_FRAME = 64 * 1024 * 1024


class WSError(AssertionError):
    """A broken expectation about the server (a test failure, not an error)."""


class Timeout(WSError):
    pass


class ConnectionClosed(WSError):
    """The server closed the TCP connection (EOF or reset)."""


class Frame:
    __slots__ = ("fin", "rsv", "opcode", "masked", "payload")

    def __init__(self, fin, rsv, opcode, masked, payload):
        self.fin, self.rsv, self.opcode, self.masked, self.payload = fin, rsv, opcode, masked, payload

    def close_info(self):
        """(code, reason bytes) of a close frame; code None for an empty payload."""
        p = self.payload
        if len(p) == 0:
            return None, b""
        if len(p) == 1:
            raise WSError("server sent a close frame with a 1-byte payload")
        return struct.unpack("!H", p[:2])[0], p[2:]

    def __repr__(self):
        p = self.payload
        shown = p if len(p) <= 80 else p[:60] + b"...<%d bytes>" % len(p)
        return "Frame(%s fin=%d rsv=%d%s %r)" % (
            OPCODE_NAMES.get(self.opcode, hex(self.opcode)), self.fin, self.rsv,
            " masked" if self.masked else "", shown)


def mask_bytes(key, payload):
    """XOR payload with the 4-byte key (fast for large payloads)."""
    n = len(payload)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def frame_header(opcode, length, fin=True, rsv=0, mask_key=None):
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    m = 0x80 if mask_key is not None else 0
    if length < 126:
        h = struct.pack("!BB", b0, m | length)
    elif length < 65536:
        h = struct.pack("!BBH", b0, m | 126, length)
    else:
        h = struct.pack("!BBQ", b0, m | 127, length)
    return h + (mask_key if mask_key is not None else b"")


def build_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None, length=None):
    """Bytes of one client frame. `length` overrides the announced length
    (the payload sent may then be shorter or longer than announced)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if mask:
        key = mask_key if mask_key is not None else os.urandom(4)
    else:
        key = None
    n = len(payload) if length is None else length
    body = mask_bytes(key, payload) if key is not None else payload
    return frame_header(opcode, n, fin, rsv, key) + body


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack("!H", code) + reason


def split_at(data, offsets):
    """Cut data at the given offsets (0 < offset < len); returns the pieces."""
    cuts = sorted(set(o for o in offsets if 0 < o < len(data)))
    pieces, prev = [], 0
    for c in cuts:
        pieces.append(data[prev:c])
        prev = c
    pieces.append(data[prev:])
    return pieces


def chunks(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


class Client:
    """One raw WebSocket connection to host:port.

    Sending never raises for a connection the server has already closed
    (BrokenPipe/ECONNRESET): that is recorded in `send_failed` and the next
    read reports what the server actually did.
    """

    def __init__(self, host, port, timeout=DEFAULT_TIMEOUT, path="/", handshake=True,
                 headers=None, hard_deadline=None):
        """hard_deadline (time.monotonic() value): no read or write waits past
        it, so a test with many steps still ends in bounded time."""
        self.host, self.port, self.timeout = host, port, timeout
        self.hard_deadline = hard_deadline if hard_deadline is not None else float("inf")
        self.buf = bytearray()
        self.eof = False
        self.send_failed = False
        self.server_pings = []
        left = self.hard_deadline - time.monotonic()
        if left <= 0:
            raise Timeout("test time budget used up before connecting")
        self.sock = socket.create_connection((host, port), timeout=min(timeout, left))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.response_head = None
        if handshake:
            try:
                self.handshake(path, headers)
            except BaseException:
                self.close()
                raise

    # -- lifecycle --------------------------------------------------------
    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def handshake(self, path="/", headers=None):
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (self.host, self.port),
                 "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        lines += list(headers or [])
        self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = time.monotonic() + self.timeout
        for _ in range(1000):
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > MAX_HEAD:
                raise WSError("handshake response head too large")
            self._fill(deadline)
        else:
            raise WSError("handshake: no end of head")
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[:end + 4]
        self.response_head = head
        status, *hlines = head.split("\r\n")
        if not status.startswith("HTTP/1.1 101"):
            raise WSError("handshake refused: %r" % status)
        hdrs = {}
        for line in hlines:
            name, _, value = line.partition(":")
            hdrs[name.strip().lower()] = value.strip()
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        if hdrs.get("sec-websocket-accept") != want:
            raise WSError("bad Sec-WebSocket-Accept %r (want %r)" % (hdrs.get("sec-websocket-accept"), want))
        if hdrs.get("upgrade", "").lower() != "websocket":
            raise WSError("bad Upgrade header %r" % hdrs.get("upgrade"))
        if "upgrade" not in hdrs.get("connection", "").lower():
            raise WSError("bad Connection header %r" % hdrs.get("connection"))
        return hdrs

    # -- sending ----------------------------------------------------------
    def send_raw(self, data, splits=None, chunk=None, delay=PIECE_DELAY):
        """Send bytes; cut at `splits` offsets or into `chunk`-sized pieces,
        sleeping `delay` between pieces so each arrives in its own read."""
        if splits is not None:
            pieces = split_at(data, splits)
        elif chunk is not None:
            pieces = chunks(data, chunk)
        else:
            pieces = [data]
        for i, piece in enumerate(pieces):
            if i and delay:
                time.sleep(delay)
            if self.send_failed:
                return False
            left = self.hard_deadline - time.monotonic()
            if left <= 0:
                raise Timeout("test time budget used up while sending")
            self.sock.settimeout(min(self.timeout, left))
            try:
                self.sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                self.send_failed = True
                return False
            except socket.timeout:
                raise Timeout("send blocked for %.1f s (server not reading?)" % self.timeout)
        return True

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None,
                   length=None, splits=None, chunk=None, delay=PIECE_DELAY):
        data = build_frame(opcode, payload, fin, rsv, mask, mask_key, length)
        return self.send_raw(data, splits=splits, chunk=chunk, delay=delay)

    def send_text(self, payload, **kw):
        return self.send_frame(OP_TEXT, payload, **kw)

    def send_binary(self, payload, **kw):
        return self.send_frame(OP_BINARY, payload, **kw)

    def send_ping(self, payload=b"", **kw):
        return self.send_frame(OP_PING, payload, **kw)

    def send_pong(self, payload=b"", **kw):
        return self.send_frame(OP_PONG, payload, **kw)

    def send_close(self, code=None, reason=b"", **kw):
        return self.send_frame(OP_CLOSE, close_payload(code, reason), **kw)

    def send_fragments(self, opcode, pieces, delay=0.0, final=True):
        """One message as len(pieces) frames: first `opcode`, then continuations;
        the last has FIN set unless final is False."""
        n = len(pieces)
        data = b"".join(build_frame(opcode if i == 0 else OP_CONT, p, fin=(final and i == n - 1))
                        for i, p in enumerate(pieces))
        if not delay:
            return self.send_raw(data)
        ok = True
        for i, p in enumerate(pieces):
            if i:
                time.sleep(delay)
            ok = self.send_frame(opcode if i == 0 else OP_CONT, p, fin=(final and i == n - 1)) and ok
        return ok

    def start_sender(self, data, chunk=256 * 1024, timeout=20.0):
        """Send data from a thread (for exchanges too big to send before
        reading). Returns the thread; join() it; .error holds any exception."""
        sock = self.sock.dup()
        sock.settimeout(max(0.1, min(timeout, self.hard_deadline - time.monotonic())))
        t = threading.Thread(target=_send_all, args=(self, sock, data, chunk), daemon=True)
        t.error = None
        t.start()
        return t

    # -- receiving --------------------------------------------------------
    def _fill(self, deadline):
        if self.eof:
            raise ConnectionClosed("server closed the connection")
        if self.hard_deadline < deadline:
            deadline = self.hard_deadline
        left = deadline - time.monotonic()
        if left <= 0:
            if deadline == self.hard_deadline:
                raise Timeout("test time budget used up waiting for the server")
            raise Timeout("no data from server within the timeout")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            raise Timeout("no data from server within the timeout") from None
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            raise ConnectionClosed("server closed the connection")
        self.buf += data

    def _need(self, n, deadline):
        for _ in range(1 + n):  # each successful fill adds at least one byte
            if len(self.buf) >= n:
                return
            self._fill(deadline)
        raise WSError("internal: read loop bound exceeded")

    def recv_frame(self, timeout=None, skip_pings=True, strict=True):
        """Read one frame. Server pings (keep-alive) are skipped and recorded
        unless skip_pings is False. strict: fail on anything a server must
        not send (mask, RSV, FIN=0, unknown opcode, long control frame)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        for _ in range(10000):
            self._need(2, deadline)
            b0, b1 = self.buf[0], self.buf[1]
            fin, rsv, opcode = b0 >> 7, (b0 >> 4) & 7, b0 & 0xF
            masked, n = b1 >> 7, b1 & 0x7F
            pos = 2
            if n == 126:
                self._need(4, deadline)
                n = struct.unpack("!H", self.buf[2:4])[0]
                pos = 4
            elif n == 127:
                self._need(10, deadline)
                n = struct.unpack("!Q", self.buf[2:10])[0]
                pos = 10
            if n > MAX_FRAME:
                raise WSError("server frame announces %d bytes" % n)
            key = None
            if masked:
                self._need(pos + 4, deadline)
                key = bytes(self.buf[pos:pos + 4])
                pos += 4
            self._need(pos + n, deadline)
            payload = bytes(self.buf[pos:pos + n])
            del self.buf[:pos + n]
            if key is not None:
                payload = mask_bytes(key, payload)
            f = Frame(fin, rsv, opcode, masked, payload)
            if strict:
                if masked:
                    raise WSError("server sent a masked frame: %r" % f)
                if rsv:
                    raise WSError("server sent RSV bits: %r" % f)
                if opcode not in OPCODE_NAMES or opcode == OP_CONT:
                    raise WSError("server sent opcode %d: %r" % (opcode, f))
                if not fin:
                    raise WSError("server sent a fragmented message: %r" % f)
                if opcode >= 8 and n > 125:
                    raise WSError("server sent a control frame of %d bytes" % n)
            if skip_pings and opcode == OP_PING:
                self.server_pings.append(payload)
                continue
            return f
        raise WSError("too many server pings")

    def expect_no_frame(self, wait=0.3):
        """Nothing (but keep-alive pings) arrives within `wait` seconds and
        the connection stays open."""
        try:
            f = self.recv_frame(timeout=wait)
        except Timeout:
            return
        raise WSError("expected no frame, got %r" % (f,))

    def expect_close(self, timeout=None, allow=None, close_timeout=CLOSE_TIMEOUT):
        """Read until the server's close frame; return (code, reason).

        Frames before it fail the expectation unless allow(frame) is true.
        Then the server must close TCP within close_timeout without sending
        anything more."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        for _ in range(100000):
            left = max(0.01, deadline - time.monotonic())
            try:
                f = self.recv_frame(timeout=left)
            except ConnectionClosed:
                raise ConnectionClosed("server closed TCP without a close frame") from None
            except Timeout:
                raise Timeout("no close frame from server within the timeout") from None
            if f.opcode == OP_CLOSE:
                info = f.close_info()
                self.wait_closed(close_timeout)
                return info
            if allow is None or not allow(f):
                raise WSError("expected a close frame, got %r" % (f,))
        raise WSError("too many frames before close")

    def wait_closed(self, timeout=CLOSE_TIMEOUT):
        """The server closes TCP within timeout, sending nothing more."""
        deadline = time.monotonic() + timeout
        if self.buf:
            raise WSError("server sent data after its close frame: %r" % bytes(self.buf[:60]))
        try:
            self._fill(deadline)
        except ConnectionClosed:
            return
        except Timeout:
            raise Timeout("server did not close TCP within %.1f s after its close frame" % timeout) from None
        raise WSError("server sent data after its close frame: %r" % bytes(self.buf[:60]))


def _send_all(client, sock, data, chunk):
    try:
        for piece in chunks(data, chunk) if chunk else [data]:
            sock.sendall(piece)
    except (BrokenPipeError, ConnectionResetError):
        client.send_failed = True
    except Exception as e:  # reported by the test through thread.error
        threading.current_thread().error = e
    finally:
        sock.close()
