"""Plain sockets with deadlines, and raw HTTP over them.

`Stream` is a connected socket with a receive buffer: every read has a
deadline (and never waits past the test's `hard_deadline`), every loop is
bounded, so a relay that misbehaves makes a test fail, never hang. Sending
never raises for a connection the server already closed: that is recorded
in `send_failed` and the next read reports what the server did.
"""
import socket
import time

from .testca import client_wrap, over_tls
from .wire import HOST, Closed, Timeout, WSError, chunks, head_end, parse_head, split_at

DEFAULT_TIMEOUT = 5.0      # one read or one whole expectation
PIECE_DELAY = 0.004        # sleep between split pieces so they land in separate reads
CLOSE_TIMEOUT = 3.0        # the server must end TCP this soon after its close frame
MAX_BODY = 16 * 1024 * 1024


def connect(port, timeout=DEFAULT_TIMEOUT, host=HOST, source=None):
    """A TCP connection to the relay (from the loopback address `source`)."""
    s = socket.create_connection((host, port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    s.settimeout(timeout)
    if over_tls():
        s = client_wrap(s)
    return s


class Stream:
    def __init__(self, sock, timeout=DEFAULT_TIMEOUT, hard_deadline=None):
        """hard_deadline (a time.monotonic() value): no read or write waits
        past it, so a test with many steps still ends in bounded time."""
        self.sock, self.timeout = sock, timeout
        self.hard_deadline = hard_deadline if hard_deadline is not None else float("inf")
        self.buf = bytearray()
        self.eof = False
        self.send_failed = False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- lifecycle --------------------------------------------------------
    def abort(self):
        """Drop the TCP connection (no close frame)."""
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()
        return False

    # -- sending ----------------------------------------------------------
    def send_raw(self, data, splits=None, chunk=None, delay=PIECE_DELAY):
        """Send bytes; cut at `splits` offsets or into `chunk`-sized pieces,
        sleeping `delay` between pieces so each arrives in its own read.
        False when the server had closed the connection."""
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
                raise Timeout("send blocked for %.1f s (server not reading?)" % self.timeout) from None
        return True

    # -- receiving --------------------------------------------------------
    def deadline(self, timeout=None):
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def fill(self, deadline):
        """One recv into the buffer; Closed on EOF or reset, Timeout at the deadline."""
        if self.eof:
            raise Closed("server closed the connection")
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
            raise Closed("server closed the connection")
        self.buf += data

    def need(self, n, deadline):
        """At least n bytes in the buffer."""
        for _ in range(1 + n):  # each successful fill adds at least one byte
            if len(self.buf) >= n:
                return
            self.fill(deadline)
        raise WSError("internal: read loop bound exceeded")

    def take(self, n):
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_head(self, timeout=None):
        """The HTTP response head (a wire.Head); what follows stays buffered."""
        deadline = self.deadline(timeout)
        for _ in range(100000):
            end = head_end(self.buf)
            if end >= 0:
                return parse_head(self.take(end))
            self.fill(deadline)
        raise WSError("response head never completed")

    def wait_eof(self, timeout=DEFAULT_TIMEOUT):
        """True once the server ends TCP within timeout (what it sends
        meanwhile is dropped); False while it stays open."""
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            self.buf.clear()
            try:
                self.fill(deadline)
            except Closed:
                return True
            except Timeout:
                return False
        return False

    def expect_eof(self, timeout=CLOSE_TIMEOUT):
        """The server ends TCP within timeout, sending nothing more."""
        deadline = time.monotonic() + timeout
        if self.buf:
            raise WSError("server sent data after its close frame: %r" % bytes(self.buf[:60]))
        try:
            self.fill(deadline)
        except Closed:
            return
        except Timeout:
            raise Timeout("server did not close TCP within %.1f s after its close frame" % timeout) from None
        raise WSError("server sent data after its close frame: %r" % bytes(self.buf[:60]))


# ---------------------------------------------------------------- HTTP

class Response:
    def __init__(self, head, body, closed):
        self.head, self.body, self.closed = head, body, closed
        self.status, self.reason, self.headers = head.status, head.reason, head.headers

    def header(self, name):
        return self.head.header(name)

    def __repr__(self):
        return f"<Response {self.status} {self.headers} body={self.body[:80]!r}>"


def http_raw(port, request, timeout=DEFAULT_TIMEOUT, read_body=True):
    """Send raw request bytes, read one response. Body by Content-Length,
    else until EOF. `closed`: the server closed the connection while the
    body was read."""
    deadline = time.monotonic() + timeout
    with Stream(connect(port, timeout), timeout) as st:
        st.send_raw(request)
        head = st.read_head(timeout)
        closed = False
        cl = head.header("content-length")
        if head.status < 200 or head.status in (204, 304):
            read_body = False  # no body (a 101 would be followed by frames)
        want = int(cl) if cl is not None else MAX_BODY
        if want > MAX_BODY and cl is not None:
            raise WSError("body too large")
        if read_body:
            try:
                st.need(want, deadline)
            except Closed:
                closed = True
        return Response(head, bytes(st.buf), closed)


def http_get(port, path, method="GET", headers=None, body=b"", timeout=DEFAULT_TIMEOUT):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    req = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    return http_raw(port, req, timeout)
